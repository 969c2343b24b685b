-- Contacts are now also found by any text inside their name and remark through search_keys
-- (every suffix of the folded text is a key; worker/src/search/keys.ts), so the contacts search
-- no longer scans the table. A rename now only queues the row: the old keys stay (still found by
-- its old name) until whoever keys it next replaces them, instead of leaving it unfound by any
-- name until then. A contact's remark counts as a rename. Every contact is queued once to gain
-- its substring keys (the cron keys them in bounded steps; `npm run db:setup` at once).
DROP TRIGGER `contacts_search_keys_rename`;
--> statement-breakpoint
CREATE TRIGGER `contacts_search_keys_rename` AFTER UPDATE OF `name`, `remark` ON `contacts` WHEN OLD.`name` IS NOT NEW.`name` OR OLD.`remark` IS NOT NEW.`remark` BEGIN
  INSERT OR IGNORE INTO `search_key_queue` (`kind`, `ref_id`) VALUES ('contact', NEW.`id`);
END;
--> statement-breakpoint
DROP TRIGGER `users_search_keys_rename`;
--> statement-breakpoint
CREATE TRIGGER `users_search_keys_rename` AFTER UPDATE OF `name` ON `users` WHEN OLD.`name` IS NOT NEW.`name` BEGIN
  INSERT OR IGNORE INTO `search_key_queue` (`kind`, `ref_id`) VALUES ('user', NEW.`id`);
END;
--> statement-breakpoint
DROP TRIGGER `tags_search_keys_rename`;
--> statement-breakpoint
CREATE TRIGGER `tags_search_keys_rename` AFTER UPDATE OF `name` ON `tags` WHEN OLD.`name` IS NOT NEW.`name` BEGIN
  INSERT OR IGNORE INTO `search_key_queue` (`kind`, `ref_id`) VALUES ('tag', NEW.`id`);
END;
--> statement-breakpoint
DROP TRIGGER `rules_search_keys_rename`;
--> statement-breakpoint
CREATE TRIGGER `rules_search_keys_rename` AFTER UPDATE OF `name` ON `rules` WHEN OLD.`name` IS NOT NEW.`name` BEGIN
  INSERT OR IGNORE INTO `search_key_queue` (`kind`, `ref_id`) VALUES ('rule', NEW.`id`);
END;
--> statement-breakpoint
INSERT OR IGNORE INTO `search_key_queue` (`kind`, `ref_id`) SELECT 'contact', `id` FROM `contacts`;
