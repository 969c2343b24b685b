/**
 * Row shapes produced by the demo generator. Keys are the database's column names (snake_case)
 * so the SQL writer can emit them without a mapping layer; see worker/src/db/schema.ts.
 */
import type { ContactKind, Device, EventType, Gender, Role, TagSource, TagStatus } from '../domain';

/** Options of `generateDemo`. */
export interface DemoOptions {
  /** Number of contacts to generate. */
  contacts: number;
  /** PRNG seed; default 1. Same options → identical output. */
  seed?: number;
  /** "Now" in epoch ms: every generated time is at or before it. Passed in, never read from the clock. */
  now: number;
  /** Length of the event history in days; default 180. */
  days?: number;
  /**
   * Mean number of behaviour events per contact (before creation events); default 12.
   * Lower it for very large runs to keep the database and load time in check.
   */
  avgEvents?: number;
  /**
   * Plant the learnable repurchase pattern (`planted.ts`): purchases of the last 30 days follow
   * region, source channel and earlier spend, with noise. Default true.
   */
  plantRepurchase?: boolean;
  /** Contacts per yielded batch; default 1000. Does not change the generated data. */
  batchSize?: number;
}

export interface DepartmentRow {
  id: number;
  name: string;
  parent_id: number | null;
  path: string;
  created_at: number;
}

export interface UserRow {
  id: number;
  email: string;
  name: string;
  role: Role;
  department_id: number | null;
  password_hash: string | null;
  password_salt: string | null;
  disabled: number;
  created_at: number;
  last_login_at: number | null;
}

export interface EventSourceRow {
  id: string;
  name: string;
  kind: 'generic' | 'wecom';
  secret: string;
  created_at: number;
  last_event_at: number | null;
  event_count: number;
}

export interface CustomFieldRow {
  id: number;
  key: string;
  label_zh: string;
  label_en: string;
  type: 'text' | 'number' | 'date' | 'boolean' | 'list';
  created_at: number;
}

export interface TagGroupRow {
  id: number;
  name: string;
  description: string | null;
  color: string;
  exclusive: number;
  max_tags: number | null;
  department_id: number | null;
  apply_role: 'staff' | 'dept_admin' | 'super_admin';
  edit_role: 'dept_admin' | 'super_admin';
  sort_order: number;
  created_at: number;
}

export interface TagRow {
  id: number;
  group_id: number;
  parent_id: number | null;
  level: number;
  name: string;
  description: string | null;
  color: string | null;
  status: TagStatus;
  retired_at: number | null;
  created_at: number;
  last_applied_at: number | null;
}

export interface ContactRow {
  id: number;
  kind: ContactKind;
  external_id: string;
  name: string;
  remark: string | null;
  gender: Gender;
  region: string | null;
  city: string | null;
  occupation: string | null;
  company: string | null;
  device: Device | null;
  source_channel: string | null;
  department_id: number | null;
  owner_user_id: number | null;
  custom: string;
  bucket: number;
  created_at: number;
  updated_at: number;
  last_active_at: number | null;
  message_count: number;
  purchase_count: number;
  total_spend: number;
  last_purchase_at: number | null;
  invite_count: number;
  violation_count: number;
}

export interface EventRow {
  id: number;
  source_id: string;
  sender_event_id: string;
  contact_id: number;
  type: EventType;
  occurred_at: number;
  received_at: number;
  amount: number | null;
  channel: string | null;
  group_id: string | null;
  text: string | null;
  properties: string;
}

export interface DailyStatRow {
  contact_id: number;
  type: EventType;
  day: number;
  count: number;
  amount: number;
}

export interface ContactTagRow {
  contact_id: number;
  tag_id: number;
  source: TagSource;
  rule_id: number | null;
  rule_version: number | null;
  added_at: number;
}

export interface TagLedgerRow {
  id: number;
  contact_id: number;
  tag_id: number;
  op: 'add' | 'remove';
  source: TagSource;
  rule_id: number | null;
  rule_version: number | null;
  actor_user_id: number | null;
  batch_id: string | null;
  at: number;
}

/** Rows that do not depend on the number of contacts: emitted first. */
export interface DemoStatic {
  departments: DepartmentRow[];
  users: UserRow[];
  eventSources: EventSourceRow[];
  customFields: CustomFieldRow[];
  tagGroups: TagGroupRow[];
  /** `last_applied_at` is null here: it is only known after all contacts (see `DemoTagsApplied`). */
  tags: TagRow[];
}

/** A slice of contacts with everything that hangs off them, in FK-safe order. */
export interface DemoBatch {
  contacts: ContactRow[];
  events: EventRow[];
  dailyStats: DailyStatRow[];
  contactTags: ContactTagRow[];
  tagLedger: TagLedgerRow[];
}

/** Emitted last: `tags.last_applied_at` (latest ledger add) and the demo source's counters. */
export interface DemoTagsApplied {
  tags: { id: number; last_applied_at: number }[];
  eventSource: { id: string; last_event_at: number | null; event_count: number };
}

/** One piece of the generated stream. */
export type DemoPart = { kind: 'static'; data: DemoStatic } | { kind: 'batch'; data: DemoBatch } | { kind: 'final'; data: DemoTagsApplied };
