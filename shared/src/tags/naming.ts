/**
 * Naming rules for tags: the rules every tag name follows, and an optional per-group
 * convention written as a template such as `{部门}_{小组}`.
 */

/** WeCom allows 30 characters in a corp tag name; staying within it keeps a sync possible. */
export const TAG_NAME_MAX = 30;

/** Characters that break exports and chat-side tag pickers: separators of CSV and lists. */
const FORBIDDEN = /[,，;；|\r\n\t]/;

export type NameProblem =
  | { kind: 'empty' }
  | { kind: 'too_long'; max: number }
  | { kind: 'forbidden_char'; char: string }
  | { kind: 'pattern'; pattern: string; example: string };

/**
 * A group's naming convention as a template: `{…}` is one part (1–20 characters, no spaces and
 * none of the template's own separators), everything else is literal. `{部门}_{小组}` accepts
 * "销售_华东一组" and refuses "销售华东一组" and "销售_". A template, not a regular expression:
 * a person can read it, the UI can show it, and it cannot hang the worker.
 */
export interface NamingTemplate {
  template: string;
  parts: string[];
  regex: RegExp;
}

const PART = /\{([^{}]{1,20})\}/g;

/** Parses a template; null when it has no `{part}` or is malformed. */
export function parseNamingTemplate(template: string): NamingTemplate | null {
  if (template.length === 0 || template.length > 60) return null;
  const parts = [...template.matchAll(PART)].map((m) => m[1]!);
  if (parts.length === 0) return null;
  const literals = template.split(PART).filter((_, i) => i % 2 === 0);
  if (literals.some((l) => /[{}]/.test(l))) return null;
  // two parts with nothing between them could not be told apart
  if (literals.slice(1, -1).some((l) => l === '')) return null;
  const separators = [...new Set(literals.join(''))].map(escapeRe).join('');
  const part = `[^\\s${separators}]{1,20}`;
  const source = literals.map(escapeRe).reduce((acc, lit, i) => acc + lit + (i < parts.length ? `(${part})` : ''), '');
  return { template, parts, regex: new RegExp(`^${source}$`, 'u') };
}

const escapeRe = (s: string) => s.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');

/** An example name for a template: its part names filled in ("部门_小组"). */
export const templateExample = (t: NamingTemplate) => t.template.replace(PART, (_, p: string) => p);

/** Problems with a proposed name (empty list = fine). `template` is the group's convention, if any. */
export function checkTagName(name: string, template?: NamingTemplate | null): NameProblem[] {
  const problems: NameProblem[] = [];
  const trimmed = name.trim();
  if (!trimmed) return [{ kind: 'empty' }];
  if ([...trimmed].length > TAG_NAME_MAX) problems.push({ kind: 'too_long', max: TAG_NAME_MAX });
  const bad = trimmed.match(FORBIDDEN);
  if (bad) problems.push({ kind: 'forbidden_char', char: bad[0] === '\n' || bad[0] === '\r' ? '↵' : bad[0] === '\t' ? '⇥' : bad[0] });
  if (template && !template.regex.test(trimmed)) {
    problems.push({ kind: 'pattern', pattern: template.template, example: templateExample(template) });
  }
  return problems;
}
