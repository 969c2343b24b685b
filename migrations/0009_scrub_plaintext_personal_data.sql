-- Data only (no schema change): personal data written in clear before imports sealed it.
-- Staged cells of applied and rolled-back imports are never read again (rollback reads data,
-- hashes and `before`): emptied.
UPDATE import_rows SET cells = '[]'
WHERE substr(cells, 1, 1) = '[' AND cells <> '[]'
  AND import_id IN (SELECT id FROM imports WHERE status IN ('applied', 'rolled_back'));
--> statement-breakpoint
-- Imports not applied yet whose rows were staged in clear: dropped (the file is uploaded again).
DELETE FROM imports
WHERE status IN ('staging', 'checked')
  AND id IN (SELECT import_id FROM import_rows WHERE substr(cells, 1, 1) = '[' AND cells <> '[]');
--> statement-breakpoint
DELETE FROM import_rows WHERE import_id NOT IN (SELECT id FROM imports);
--> statement-breakpoint
-- Rejections kept the offending cell (bad or duplicate phone numbers): the values removed.
UPDATE import_rows
SET rejections = json((SELECT json_group_array(json_remove(r.value, '$.value')) FROM json_each(import_rows.rejections) r))
WHERE rejections IS NOT NULL
  AND EXISTS (SELECT 1 FROM json_each(import_rows.rejections) r WHERE json_type(r.value, '$.value') IS NOT NULL);
--> statement-breakpoint
-- A refused file's audit entry kept sample cell values (phone numbers under a name column).
UPDATE audit_log
SET after = json_set(after, '$.misaligned', json((SELECT json_group_array(json_remove(m.value, '$.samples')) FROM json_each(audit_log.after, '$.misaligned') m)))
WHERE action = 'import.dry_run' AND json_type(after, '$.misaligned') = 'array';
--> statement-breakpoint
-- An export's search text with a phone or ID number in it (7 digits in a row): removed.
UPDATE audit_log
SET after = json_remove(after, '$.filter.q')
WHERE action = 'contact.export' AND json_extract(after, '$.filter.q') GLOB '*[0-9][0-9][0-9][0-9][0-9][0-9][0-9]*';
