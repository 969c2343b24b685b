-- Rollbacks of imports are rollbacks: kind 'import' joins the CHECK (SQLite rebuilds the table; every row and
-- the batch index are kept).
PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_rollbacks` (
	`id` integer PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`batch_id` text NOT NULL,
	`params` text NOT NULL,
	`added` integer NOT NULL,
	`removed` integer NOT NULL,
	`created_by` integer,
	`created_at` integer NOT NULL,
	`undone_at` integer,
	FOREIGN KEY (`created_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "rollbacks_kind_check" CHECK("__new_rollbacks"."kind" in ('to_time', 'rule_version', 'tag_restore', 'batch', 'import'))
);
--> statement-breakpoint
INSERT INTO `__new_rollbacks`("id", "kind", "batch_id", "params", "added", "removed", "created_by", "created_at", "undone_at") SELECT "id", "kind", "batch_id", "params", "added", "removed", "created_by", "created_at", "undone_at" FROM `rollbacks`;--> statement-breakpoint
DROP TABLE `rollbacks`;--> statement-breakpoint
ALTER TABLE `__new_rollbacks` RENAME TO `rollbacks`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE UNIQUE INDEX `rollbacks_batch_idx` ON `rollbacks` (`batch_id`);