export { RuleIndex, type IndexedRule, type RuleIndexStats } from './ruleIndex.js';
export { accessPlan, type AccessKey, type AccessPlan, type RangeOp } from './plan.js';
