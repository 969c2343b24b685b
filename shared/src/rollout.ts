import { BUCKETS, bucketOf } from './domain';

/**
 * Gray release (灰度发布): a rule published to `percent`% of contacts reaches the contacts
 * whose stored bucket, shifted by a per-rule offset, falls below `percent * 100`. The offset
 * keeps different rules at 10% from all picking the same 10% of contacts; the stored bucket
 * keeps SQL and JS in agreement without a hash function in SQL.
 */
export function rolloutOffset(ruleId: number): number {
  return bucketOf(`rule:${ruleId}`);
}

/** JS form: does a contact with this bucket fall in the rule's share? */
export function inRollout(bucket: number, ruleId: number, percent: number): boolean {
  if (percent >= 100) return true;
  return (bucket + rolloutOffset(ruleId)) % BUCKETS < percent * 100;
}

/** SQL form of `inRollout` over `contacts c`, with its parameters. */
export function rolloutSql(ruleId: number, percent: number): { sql: string; params: unknown[] } {
  if (percent >= 100) return { sql: '1', params: [] };
  return { sql: `((c.bucket + ?) % ${BUCKETS}) < ?`, params: [rolloutOffset(ruleId), percent * 100] };
}
