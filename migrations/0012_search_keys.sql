CREATE TABLE `search_key_queue` (
	`kind` text NOT NULL,
	`ref_id` integer NOT NULL,
	PRIMARY KEY(`kind`, `ref_id`)
);
--> statement-breakpoint
CREATE TABLE `search_keys` (
	`kind` text NOT NULL,
	`key` text NOT NULL,
	`ref_id` integer NOT NULL,
	PRIMARY KEY(`kind`, `key`, `ref_id`)
);
--> statement-breakpoint
CREATE INDEX `search_keys_ref_idx` ON `search_keys` (`kind`,`ref_id`);--> statement-breakpoint
ALTER TABLE `import_rows` ADD `name_keys` text;
--> statement-breakpoint
-- Every insert and every change of a name queues the row for keying (whatever wrote it), and a
-- rename drops the old keys at once; write paths that key a name themselves delete the queue row
-- in the same batch, the cron keys the rest (worker/src/search/keys.ts).
CREATE TRIGGER `contacts_search_keys_insert` AFTER INSERT ON `contacts` BEGIN
  INSERT OR IGNORE INTO `search_key_queue` (`kind`, `ref_id`) VALUES ('contact', NEW.`id`);
END;
--> statement-breakpoint
CREATE TRIGGER `contacts_search_keys_rename` AFTER UPDATE OF `name` ON `contacts` WHEN OLD.`name` IS NOT NEW.`name` BEGIN
  DELETE FROM `search_keys` WHERE `kind` = 'contact' AND `ref_id` = NEW.`id`;
  INSERT OR IGNORE INTO `search_key_queue` (`kind`, `ref_id`) VALUES ('contact', NEW.`id`);
END;
--> statement-breakpoint
CREATE TRIGGER `contacts_search_keys_delete` AFTER DELETE ON `contacts` BEGIN
  DELETE FROM `search_keys` WHERE `kind` = 'contact' AND `ref_id` = OLD.`id`;
  DELETE FROM `search_key_queue` WHERE `kind` = 'contact' AND `ref_id` = OLD.`id`;
END;
--> statement-breakpoint
-- the contacts already there: keyed by the cron, in bounded steps
INSERT INTO `search_key_queue` (`kind`, `ref_id`) SELECT 'contact', `id` FROM `contacts`;
--> statement-breakpoint
CREATE TRIGGER `users_search_keys_insert` AFTER INSERT ON `users` BEGIN
  INSERT OR IGNORE INTO `search_key_queue` (`kind`, `ref_id`) VALUES ('user', NEW.`id`);
END;
--> statement-breakpoint
CREATE TRIGGER `users_search_keys_rename` AFTER UPDATE OF `name` ON `users` WHEN OLD.`name` IS NOT NEW.`name` BEGIN
  DELETE FROM `search_keys` WHERE `kind` = 'user' AND `ref_id` = NEW.`id`;
  INSERT OR IGNORE INTO `search_key_queue` (`kind`, `ref_id`) VALUES ('user', NEW.`id`);
END;
--> statement-breakpoint
CREATE TRIGGER `users_search_keys_delete` AFTER DELETE ON `users` BEGIN
  DELETE FROM `search_keys` WHERE `kind` = 'user' AND `ref_id` = OLD.`id`;
  DELETE FROM `search_key_queue` WHERE `kind` = 'user' AND `ref_id` = OLD.`id`;
END;
--> statement-breakpoint
-- the users already there: keyed by the cron, in bounded steps
INSERT INTO `search_key_queue` (`kind`, `ref_id`) SELECT 'user', `id` FROM `users`;
--> statement-breakpoint
CREATE TRIGGER `tags_search_keys_insert` AFTER INSERT ON `tags` BEGIN
  INSERT OR IGNORE INTO `search_key_queue` (`kind`, `ref_id`) VALUES ('tag', NEW.`id`);
END;
--> statement-breakpoint
CREATE TRIGGER `tags_search_keys_rename` AFTER UPDATE OF `name` ON `tags` WHEN OLD.`name` IS NOT NEW.`name` BEGIN
  DELETE FROM `search_keys` WHERE `kind` = 'tag' AND `ref_id` = NEW.`id`;
  INSERT OR IGNORE INTO `search_key_queue` (`kind`, `ref_id`) VALUES ('tag', NEW.`id`);
END;
--> statement-breakpoint
CREATE TRIGGER `tags_search_keys_delete` AFTER DELETE ON `tags` BEGIN
  DELETE FROM `search_keys` WHERE `kind` = 'tag' AND `ref_id` = OLD.`id`;
  DELETE FROM `search_key_queue` WHERE `kind` = 'tag' AND `ref_id` = OLD.`id`;
END;
--> statement-breakpoint
-- the tags already there: keyed by the cron, in bounded steps
INSERT INTO `search_key_queue` (`kind`, `ref_id`) SELECT 'tag', `id` FROM `tags`;
--> statement-breakpoint
CREATE TRIGGER `rules_search_keys_insert` AFTER INSERT ON `rules` BEGIN
  INSERT OR IGNORE INTO `search_key_queue` (`kind`, `ref_id`) VALUES ('rule', NEW.`id`);
END;
--> statement-breakpoint
CREATE TRIGGER `rules_search_keys_rename` AFTER UPDATE OF `name` ON `rules` WHEN OLD.`name` IS NOT NEW.`name` BEGIN
  DELETE FROM `search_keys` WHERE `kind` = 'rule' AND `ref_id` = NEW.`id`;
  INSERT OR IGNORE INTO `search_key_queue` (`kind`, `ref_id`) VALUES ('rule', NEW.`id`);
END;
--> statement-breakpoint
CREATE TRIGGER `rules_search_keys_delete` AFTER DELETE ON `rules` BEGIN
  DELETE FROM `search_keys` WHERE `kind` = 'rule' AND `ref_id` = OLD.`id`;
  DELETE FROM `search_key_queue` WHERE `kind` = 'rule' AND `ref_id` = OLD.`id`;
END;
--> statement-breakpoint
-- the rules already there: keyed by the cron, in bounded steps
INSERT INTO `search_key_queue` (`kind`, `ref_id`) SELECT 'rule', `id` FROM `rules`;
