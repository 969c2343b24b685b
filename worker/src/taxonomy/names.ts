/** A new or renamed tag's checks: naming rules, the same name in its group, near-duplicates anywhere. */
import { ApiError } from '../errors';
import type { FieldProblem } from '@shared/api/errors';
import type { TagStatus } from '@shared/domain';
import { checkTagName, findNearDuplicates, type DuplicateReason, type NameProblem } from '@shared/tags';
import type { DuplicateWarning } from '@shared/api/taxonomy';
import type { GroupRow } from './rows';
import type { TaxonomySettings } from './settings';

const problemMessage = (p: NameProblem): string => {
  switch (p.kind) {
    case 'empty':
      return 'must not be empty';
    case 'too_long':
      return `must be at most ${p.max} characters`;
    case 'forbidden_char':
      return `must not contain "${p.char}"`;
    case 'pattern':
      return `must follow the group's naming convention ${p.pattern} (e.g. ${p.example})`;
  }
};

const reasonText = (r: DuplicateReason): string => {
  switch (r.kind) {
    case 'exact':
      return 'same name';
    case 'normalized':
      return 'same name once width, case and punctuation are ignored';
    case 'traditional':
      return 'same name in simplified characters';
    case 'synonym':
      return `same name once synonyms are read alike (${r.pairs.map((p) => `${p.from} ↔ ${p.to}`).join(', ')})`;
    case 'homophone':
      return `sounds the same (${r.pairs.map((p) => `${p.from} ↔ ${p.to}: ${p.reading}`).join(', ')})`;
    case 'edit_distance':
      return `differs by ${r.distance} character${r.distance > 1 ? 's' : ''}`;
    case 'shared_chars':
      return `shares the characters ${r.shared}`;
  }
};

export async function nearDuplicates(db: D1Database, name: string, excludeId?: number): Promise<DuplicateWarning[]> {
  const { results } = await db
    .prepare('SELECT t.id, t.name, t.group_id, t.status, g.name AS group_name FROM tags t JOIN tag_groups g ON g.id = t.group_id')
    .all<{ id: number; name: string; group_id: number; status: TagStatus; group_name: string }>();
  const existing = results.map((r) => ({ ...r, groupId: r.group_id }));
  const matches = findNearDuplicates(name, existing, { excludeId });
  if (!matches.length) return [];
  // holders only for the few matches: this runs on every pause in typing
  const { results: counts } = await db
    .prepare('SELECT tag_id, count(*) AS n FROM contact_tags WHERE tag_id IN (SELECT value FROM json_each(?)) GROUP BY tag_id')
    .bind(JSON.stringify(matches.map((m) => m.tag.id)))
    .all<{ tag_id: number; n: number }>();
  const holders = new Map(counts.map((r) => [r.tag_id, r.n]));
  return matches.map(({ tag, reason }) => ({
    tag: {
      id: tag.id,
      name: tag.name,
      groupId: tag.group_id,
      groupName: tag.group_name,
      status: tag.status,
      holders: holders.get(tag.id) ?? 0,
    },
    reason,
  }));
}

/**
 * The checks a new or renamed tag passes: naming rules (400), the same name in the group (409),
 * near-duplicates anywhere unless acknowledged (409 with the tags to use instead).
 */
export async function checkNewName(
  db: D1Database,
  s: TaxonomySettings,
  group: GroupRow,
  name: string,
  opts: { excludeId?: number; allowDuplicate?: boolean },
) {
  const problems = checkTagName(name, s.templatesByGroupName.get(group.name));
  if (problems.length) {
    const details = problems.map((p) => ({ path: 'name', message: problemMessage(p) }));
    throw new ApiError(400, 'invalid_request', `Invalid body: ${details.map((d) => `name: ${d.message}`).join('; ')}`, details);
  }
  const duplicates = await nearDuplicates(db, name, opts.excludeId);
  const sameInGroup = duplicates.find((d) => d.reason.kind === 'exact' && d.tag.groupId === group.id);
  if (sameInGroup) {
    throw new ApiError(
      409,
      'conflict',
      `Group ${group.name} already has a tag named ${name} (#${sameInGroup.tag.id}, ${sameInGroup.tag.status})`,
      [{ path: 'name', message: `already used by tag #${sameInGroup.tag.id}` }],
    );
  }
  if (duplicates.length && !opts.allowDuplicate) {
    const details: FieldProblem[] = duplicates.map((d) => ({
      path: 'name',
      message: `looks like ${d.tag.groupName} › ${d.tag.name} (#${d.tag.id}): ${reasonText(d.reason)}`,
    }));
    throw new ApiError(
      409,
      'conflict',
      `${name} looks like an existing tag: use ${duplicates[0]!.tag.name} (#${duplicates[0]!.tag.id}) instead, or send allowDuplicate: true`,
      details,
    );
  }
}
