/**
 * One contact, in depth: attributes, tag timeline (from `tag_ledger`), event timeline and
 * manual tag edits (`/api/contacts/:id/…`). Mounted beside the list app in `contacts.ts`; these
 * paths never overlap with it (`/:id` alone stays there).
 */
import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../app-env';
import { actorOf, hasRole } from '../auth/access';
import { validate } from '../validate';
import { revealField } from '../crypto/fields';
import { tagChangeStatements, type TagChange } from '../tagging/tag-writer';
import { idParam } from '@shared/api/common';
import type { TagChip } from '@shared/api/contacts';
import {
  archivedEventsQuery,
  manualTagsBody,
  timelineQuery,
  type ContactDetail,
  type EventTimelinePage,
  type ManualTagResult,
  type TagTimelinePage,
} from '@shared/api/taxonomy';
import {
  batch,
  typed,
  writeThenRead,
  type CustomFieldRow,
  type DepartmentRow,
  type ContactEventRow,
  type RuleRow,
  type TagGroupRow,
  type TagLedgerRow,
  type TagRow,
  type UserRow,
} from '../db/rows';
import { auditInsert, AuditSql } from '../audit';
import { checkManualTags } from '../contacts/manual-tags';
import { CHIPS_SQL, chipsOf, timelineEntry, manualTagsParams, parseJson, requireContact, segmentsOf } from '../contacts/detail';
import { readPage } from '../db/page';
import { archivedEventsPage, archivedThrough } from '../archive/timeline';

const idPath = z.object({ id: idParam }).strict();

/** A tag ledger row with its tag, group and rule, for the timeline. */
type TimelineRow = Pick<TagLedgerRow, 'id' | 'at' | 'op' | 'source' | 'rule_id' | 'rule_version' | 'actor_user_id' | 'batch_id'> & {
  tag_id: TagRow['id'];
  tag_name: TagRow['name'];
  tag_color: string;
  tag_status: TagRow['status'];
  group_name: TagGroupRow['name'];
  rule_name: RuleRow['name'] | null;
};

export const contactDetail = new Hono<AppEnv>()
  .get('/:id/detail', validate('param', idPath), async (c) => {
    const { id } = c.req.valid('param');
    const db = c.env.DB;
    const row = await requireContact(db, id, c.get('user'));
    const [dept, owner, fields, chips] = await batch(db, [
      typed<Pick<DepartmentRow, 'id' | 'name'>>(db.prepare('SELECT id, name FROM departments WHERE id = ?').bind(row.department_id)),
      typed<Pick<UserRow, 'id' | 'name'>>(db.prepare('SELECT id, name FROM users WHERE id = ?').bind(row.owner_user_id)),
      typed<Pick<CustomFieldRow, 'key' | 'label_zh' | 'label_en'>>(
        db.prepare('SELECT key, label_zh, label_en FROM custom_fields ORDER BY id'),
      ),
      typed<TagChip>(db.prepare(CHIPS_SQL).bind(id)),
    ]);
    const custom = parseJson(row.custom);
    const segments = await segmentsOf(db, c.env, id, c.get('user'));
    // sensitive values in clear for super admins only; everyone else sees them masked
    const canSeeSensitive = hasRole(c.get('user'), 'super_admin');
    const declared = fields.results;
    const known = new Set(declared.map((f) => f.key));
    const d = dept.results[0];
    const o = owner.results[0];
    const body: ContactDetail = {
      id,
      kind: row.kind,
      externalId: row.external_id,
      name: row.name,
      remark: row.remark,
      gender: row.gender,
      region: row.region,
      city: row.city,
      company: row.company,
      occupation: row.occupation,
      device: row.device,
      sourceChannel: row.source_channel,
      department: d ? { id: d.id, name: d.name } : null,
      owner: o ? { id: o.id, name: o.name } : null,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      lastActiveAt: row.last_active_at,
      messageCount: row.message_count,
      purchaseCount: row.purchase_count,
      totalSpend: row.total_spend,
      lastPurchaseAt: row.last_purchase_at,
      inviteCount: row.invite_count,
      violationCount: row.violation_count,
      custom: [
        ...declared
          .filter((f) => f.key in custom)
          .map((f) => ({ key: f.key, labelZh: f.label_zh, labelEn: f.label_en, value: custom[f.key] })),
        // undeclared keys still show, labelled by their key
        ...Object.keys(custom)
          .filter((k) => !known.has(k))
          .map((k) => ({ key: k, labelZh: k, labelEn: k, value: custom[k] })),
      ],
      hasPhone: row.phone_enc != null,
      hasIdNumber: row.id_number_enc != null,
      phone: await revealField(c.env, row.phone_enc, canSeeSensitive),
      idNumber: await revealField(c.env, row.id_number_enc, canSeeSensitive),
      sensitiveMasked: !canSeeSensitive,
      tags: chips.results,
      segments,
    };
    return c.json(body);
  })
  .get('/:id/tag-timeline', validate('param', idPath), validate('query', timelineQuery), async (c) => {
    const { id } = c.req.valid('param');
    const q = c.req.valid('query');
    const db = c.env.DB;
    await requireContact(db, id, c.get('user'));
    const { rows, ...page } = await readPage<TimelineRow>(
      db,
      q,
      `SELECT l.id, l.at, l.op, l.source, l.rule_id, l.rule_version, l.actor_user_id, l.batch_id,
              t.id AS tag_id, t.name AS tag_name, coalesce(t.color, g.color) AS tag_color, t.status AS tag_status,
              g.name AS group_name, r.name AS rule_name
       FROM tag_ledger l JOIN tags t ON t.id = l.tag_id JOIN tag_groups g ON g.id = t.group_id
       LEFT JOIN rules r ON r.id = l.rule_id
       WHERE l.contact_id = ? ORDER BY l.at DESC, l.id DESC`,
      'SELECT count(*) AS n FROM tag_ledger WHERE contact_id = ?',
      [id],
    );
    const body: TagTimelinePage = {
      ...page,
      items: rows.map((r) => ({
        id: r.id,
        at: r.at,
        op: r.op,
        source: r.source,
        tag: { id: r.tag_id, name: r.tag_name, color: r.tag_color, status: r.tag_status, groupName: r.group_name },
        rule: r.rule_id == null ? null : { id: r.rule_id, name: r.rule_name, version: r.rule_version },
        actorUserId: r.actor_user_id,
        batchId: r.batch_id,
      })),
    };
    return c.json(body);
  })
  .get('/:id/events', validate('param', idPath), validate('query', timelineQuery), async (c) => {
    const { id } = c.req.valid('param');
    const q = c.req.valid('query');
    const db = c.env.DB;
    await requireContact(db, id, c.get('user'));
    const { rows, ...page } = await readPage<
      Pick<ContactEventRow, 'id' | 'type' | 'occurred_at' | 'amount' | 'channel' | 'group_id' | 'text'>
    >(
      db,
      q,
      'SELECT id, type, occurred_at, amount, channel, group_id, text FROM events WHERE contact_id = ? ORDER BY occurred_at DESC, id DESC',
      'SELECT count(*) AS n FROM events WHERE contact_id = ?',
      [id],
    );
    const body: EventTimelinePage = {
      ...page,
      archivedThrough: await archivedThrough(db, id),
      items: rows.map(timelineEntry),
    };
    return c.json(body);
  })
  .get('/:id/events/archived', validate('param', idPath), validate('query', archivedEventsQuery), async (c) => {
    const { id } = c.req.valid('param');
    await requireContact(c.env.DB, id, c.get('user'));
    return c.json(await archivedEventsPage(c.env, id, c.req.valid('query').before));
  })
  .post('/:id/tags', validate('param', idPath), validate('json', manualTagsBody), async (c) => {
    const { id } = c.req.valid('param');
    const b = c.req.valid('json');
    const db = c.env.DB;
    const contact = await requireContact(db, id, c.get('user'));
    const byId = await checkManualTags(db, c.get('user'), b);

    const before = await chipsOf(db, id);
    const at = Date.now();
    const batchId = `manual-${crypto.randomUUID()}`;
    const changes: TagChange[] = [
      ...b.remove.map((tagId) => ({ contactId: id, tagId, op: 'remove' as const })),
      ...b.add.map((tagId) => ({ contactId: id, tagId, op: 'add' as const })),
    ];
    const [written, tags] = await writeThenRead(
      db,
      [
        ...tagChangeStatements(db, changes, { source: 'manual', batchId, at, actorUserId: c.get('user').id }),
        auditInsert(
          db,
          {
            at,
            actor: actorOf(c),
            action: 'contact.tags',
            objectType: 'contact',
            objectId: id,
            summary: `Tags edited by hand: +${b.add.map((t) => byId.get(t)!.name).join(' +') || '0'} −${b.remove.map((t) => byId.get(t)!.name).join(' −') || '0'}`,
            params: manualTagsParams(
              contact.name || `#${id}`,
              b.add.map((t) => byId.get(t)!.name),
              b.remove.map((t) => byId.get(t)!.name),
            ),
            before: before.map((t) => t.id),
            after: new AuditSql('(SELECT json_group_array(tag_id) FROM contact_tags WHERE contact_id = ?)', id),
          },
          // written only if the edit changed something
          { where: 'EXISTS (SELECT 1 FROM tag_ledger WHERE contact_id = ? AND batch_id = ?)', args: [id, batchId] },
        ),
      ],
      [
        // by contact first: tag_ledger has no index on batch_id, the contact index keeps this small
        typed<ManualTagResult['changes'][number]>(
          db.prepare('SELECT tag_id AS tagId, op FROM tag_ledger WHERE contact_id = ? AND batch_id = ? ORDER BY id').bind(id, batchId),
        ),
        typed<TagChip>(db.prepare(CHIPS_SQL).bind(id)),
      ],
    );
    const body: ManualTagResult = { changes: written.results, tags: tags.results };
    return c.json(body);
  });
