CREATE TABLE `wecom_push_log` (
	`connection_id` integer NOT NULL,
	`contact_id` integer NOT NULL,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`errcode` integer,
	`errmsg` text,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`connection_id`, `contact_id`),
	CONSTRAINT "wecom_push_log_status_check" CHECK("wecom_push_log"."status" in ('queued', 'sent', 'dead'))
);
--> statement-breakpoint
CREATE INDEX `wecom_push_log_status_idx` ON `wecom_push_log` (`connection_id`,`status`,`updated_at`);--> statement-breakpoint
CREATE TABLE `wecom_push_state` (
	`connection_id` integer PRIMARY KEY NOT NULL,
	`ledger_cursor` integer DEFAULT 0 NOT NULL,
	`marked` integer DEFAULT 0 NOT NULL,
	`reverted` integer DEFAULT 0 NOT NULL,
	`created_tags` integer DEFAULT 0 NOT NULL,
	`mirrored_at` integer,
	`wecom_tag_count` integer,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `tag_groups` ADD `wecom_sync` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `tag_groups` ADD `wecom_policy` text DEFAULT 'wecom' NOT NULL;--> statement-breakpoint
ALTER TABLE `wecom_tag_map` ADD `origin` text DEFAULT 'wecom' NOT NULL;