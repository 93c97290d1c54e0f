import { createdByOf } from './attribution.js';
import { audit } from './audit.js';
import type { Rule } from '../entities/index.js';
import { redactCredentials } from '../shared/credentials.js';
import { builder } from './builder.js';
import { ActionTypeEnum, TriggerTypeEnum } from './enums.js';
import { connectionType } from './pagination.js';
import { specField } from './jsonArguments.js';

export const RuleRef = builder.objectRef<Rule>('Rule');

RuleRef.implement({
  authScopes: { read: true },
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    description: t.exposeString('description', { nullable: true }),
    triggerType: t.field({ type: TriggerTypeEnum, resolve: (r) => r.triggerType }),
    triggerSpec: t.field({
      type: 'JSON',
      description: "Condition tree, schedule or metric spec (SPEC.md, 'Trigger specs').",
      resolve: (r) => redactCredentials(r.triggerSpec),
    }),
    actionSpec: t.field({
      type: 'JSON',
      description: "One action (SPEC.md, 'Action specs'). A spec without type is a webhook.",
      resolve: (r) => redactCredentials(r.actionSpec),
    }),
    actionType: t.field({ type: ActionTypeEnum, resolve: (r) => r.actionType }),
    active: t.exposeBoolean('active'),
    createdBy: t.exposeString('createdBy', { nullable: true }),
    createdAt: t.field({ type: 'DateTime', resolve: (r) => r.createdAt }),
    updatedAt: t.field({ type: 'DateTime', resolve: (r) => r.updatedAt }),
  }),
});

export const RuleConnectionRef = connectionType('Rule', RuleRef);

const RuleFilterInput = builder.inputType('RuleFilter', {
  fields: (t) => ({
    active: t.boolean(),
    triggerType: t.field({ type: TriggerTypeEnum }),
    search: t.string({ description: 'Substring of the name, case-insensitive.' }),
  }),
});

const CreateRuleInput = builder.inputType('CreateRuleInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    description: t.string(),
    triggerType: t.field({ type: TriggerTypeEnum, defaultValue: 'EVENT' }),
    triggerSpec: t.field({ type: 'JSON', required: true, extensions: specField('triggerSpec') }),
    actionSpec: t.field({ type: 'JSON', required: true, extensions: specField('actionSpec') }),
    active: t.boolean({ defaultValue: true }),
    createdBy: t.string({ description: "Who created the rule; in KEYS mode the key's name, whatever this says." }),
  }),
});

const UpdateRuleInput = builder.inputType('UpdateRuleInput', {
  fields: (t) => ({
    name: t.string(),
    description: t.string(),
    triggerType: t.field({ type: TriggerTypeEnum }),
    triggerSpec: t.field({ type: 'JSON', extensions: specField('triggerSpec') }),
    actionSpec: t.field({ type: 'JSON', extensions: specField('actionSpec') }),
    active: t.boolean(),
  }),
});

builder.queryFields((t) => ({
  rules: t.field({
    authScopes: { read: true },
    type: RuleConnectionRef,
    args: { filter: t.arg({ type: RuleFilterInput }), first: t.arg.int(), after: t.arg.string() },
    resolve: (_root, args, { services }) => services.rules.list(args.filter, args),
  }),
  rule: t.field({
    authScopes: { read: true },
    type: RuleRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, { services }) => services.rules.get(String(id)),
  }),
}));

builder.mutationFields((t) => ({
  createRule: t.field({
    authScopes: { editor: true },
    type: RuleRef,
    args: { input: t.arg({ type: CreateRuleInput, required: true }) },
    resolve: async (_root, { input }, context) =>
      audit(context, 'createRule', {
        result: await context.services.rules.create({ ...input, createdBy: createdByOf(context.viewer, input.createdBy) }),
        targetId: (rule) => rule.id,
        detail: { input: { ...input, createdBy: createdByOf(context.viewer, input.createdBy) } },
      }),
  }),
  updateRule: t.field({
    authScopes: { editor: true },
    type: RuleRef,
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: UpdateRuleInput, required: true }) },
    resolve: async (_root, { id, input }, context) =>
      audit(context, 'updateRule', { result: await context.services.rules.update(String(id), input), targetId: (rule) => rule.id, detail: { id, input } }),
  }),
  deleteRule: t.field({
    authScopes: { editor: true },
    type: 'ID',
    description: 'Returns the id of the deleted rule.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, context) =>
      audit(context, 'deleteRule', { result: await context.services.rules.delete(String(id)), targetId: (deleted) => deleted, detail: { id } }),
  }),
}));
