-- Governance: sign-in attempts, CSRF tokens on sessions, rotatable webhook secrets, rollbacks,
-- and per-tag-group roles (apply_role replaces staff_can_apply: staff may apply -> 'staff', else 'dept_admin').
CREATE TABLE `login_attempts` (
	`id` integer PRIMARY KEY NOT NULL,
	`email` text NOT NULL,
	`ip` text NOT NULL,
	`ok` integer NOT NULL,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `login_attempts_email_idx` ON `login_attempts` (`email`,`at`);--> statement-breakpoint
CREATE INDEX `login_attempts_ip_idx` ON `login_attempts` (`ip`,`at`);--> statement-breakpoint
CREATE TABLE `rollbacks` (
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
	CONSTRAINT "rollbacks_kind_check" CHECK("rollbacks"."kind" in ('to_time', 'rule_version', 'tag_restore', 'batch'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `rollbacks_batch_idx` ON `rollbacks` (`batch_id`);--> statement-breakpoint
ALTER TABLE `event_sources` ADD `previous_secret` text;--> statement-breakpoint
ALTER TABLE `event_sources` ADD `previous_secret_expires_at` integer;--> statement-breakpoint
ALTER TABLE `event_sources` ADD `created_by` integer REFERENCES users(id);--> statement-breakpoint
ALTER TABLE `sessions` ADD `csrf_token` text DEFAULT '' NOT NULL;--> statement-breakpoint
PRAGMA defer_foreign_keys = on;--> statement-breakpoint
CREATE TABLE `__new_tag_groups` (
	`id` integer PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`description` text,
	`color` text DEFAULT '#409eff' NOT NULL,
	`exclusive` integer DEFAULT false NOT NULL,
	`max_tags` integer,
	`department_id` integer,
	`apply_role` text DEFAULT 'staff' NOT NULL,
	`edit_role` text DEFAULT 'dept_admin' NOT NULL,
	`sort_order` integer DEFAULT 0 NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	FOREIGN KEY (`department_id`) REFERENCES `departments`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "tag_groups_apply_role_check" CHECK("apply_role" in ('super_admin', 'dept_admin', 'staff')),
	CONSTRAINT "tag_groups_edit_role_check" CHECK("edit_role" in ('super_admin', 'dept_admin'))
);
--> statement-breakpoint
INSERT INTO `__new_tag_groups`("id", "name", "description", "color", "exclusive", "max_tags", "department_id", "apply_role", "edit_role", "sort_order", "created_at") SELECT "id", "name", "description", "color", "exclusive", "max_tags", "department_id", CASE "staff_can_apply" WHEN 1 THEN 'staff' ELSE 'dept_admin' END, 'dept_admin', "sort_order", "created_at" FROM `tag_groups`;--> statement-breakpoint
DROP TABLE `tag_groups`;--> statement-breakpoint
ALTER TABLE `__new_tag_groups` RENAME TO `tag_groups`;--> statement-breakpoint
PRAGMA defer_foreign_keys = off;--> statement-breakpoint
CREATE UNIQUE INDEX `tag_groups_name_idx` ON `tag_groups` (`name`);