/**
 * A contact as the database's column defaults make it, in the evaluators' shape: what the ingest
 * pipeline evaluates for a contact its INSERT is about to create, and what the conformance cases
 * fill in around the fields a case sets (so the JS evaluators see what SQL sees).
 */
export function contactWithDefaults(c: {
  id: number | null;
  kind: string;
  externalId: string;
  name: string;
  bucket: number;
  /** created_at and updated_at */
  at: number;
}): Record<string, unknown> {
  return {
    id: c.id,
    kind: c.kind,
    externalId: c.externalId,
    name: c.name,
    remark: null,
    gender: 'unknown',
    region: null,
    city: null,
    occupation: null,
    company: null,
    device: null,
    sourceChannel: null,
    departmentId: null,
    ownerUserId: null,
    custom: {},
    bucket: c.bucket,
    createdAt: c.at,
    updatedAt: c.at,
    lastActiveAt: null,
    messageCount: 0,
    purchaseCount: 0,
    totalSpend: 0,
    lastPurchaseAt: null,
    inviteCount: 0,
    violationCount: 0,
  };
}
