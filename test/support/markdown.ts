/** Fenced code blocks of the project's Markdown files, for tests that keep the docs' examples working. */

export interface CodeBlock {
  file: string;
  /** Line of the opening fence, from 1. */
  line: number;
  /** The fence's language (`sh`, `graphql`, `json`, ...), '' when none. */
  lang: string;
  text: string;
}

/** The fenced code blocks of a Markdown text, in order. */
export function codeBlocks(file: string, markdown: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    blocks.push({ file, line: start + 1, lang: open[1]!, text: body.join('\n') });
  }
  return blocks;
}

/** The text of one `## heading` section, up to the next heading of level 2 (or the end). */
export function section(markdown: string, heading: string): string {
  const start = markdown.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`no section "## ${heading}"`);
  const next = markdown.indexOf('\n## ', start + 1);
  return markdown.slice(start, next < 0 ? undefined : next);
}
