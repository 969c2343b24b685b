CREATE TABLE `wecom_push_overrides` (
	`id` integer PRIMARY KEY NOT NULL,
	`connection_id` integer NOT NULL,
	`contact_id` integer NOT NULL,
	`userid` text NOT NULL,
	`external_userid` text NOT NULL,
	`wecom_tag_id` text NOT NULL,
	`tag_id` integer NOT NULL,
	`op` text NOT NULL,
	`at` integer NOT NULL,
	`reverted_at` integer,
	CONSTRAINT "wecom_push_overrides_op_check" CHECK("wecom_push_overrides"."op" in ('added', 'removed'))
);
--> statement-breakpoint
CREATE INDEX `wecom_push_overrides_list_idx` ON `wecom_push_overrides` (`connection_id`,`at`);--> statement-breakpoint
CREATE INDEX `wecom_push_overrides_relation_idx` ON `wecom_push_overrides` (`connection_id`,`external_userid`,`reverted_at`);--> statement-breakpoint
CREATE TABLE `wecom_tag_ops` (
	`connection_id` integer NOT NULL,
	`kind` text NOT NULL,
	`wecom_id` text NOT NULL,
	`segflow_id` integer NOT NULL,
	`op` text NOT NULL,
	`name` text NOT NULL,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`errcode` integer,
	`errmsg` text,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`connection_id`, `kind`, `wecom_id`),
	CONSTRAINT "wecom_tag_ops_status_check" CHECK("wecom_tag_ops"."status" in ('queued', 'done', 'failed'))
);
--> statement-breakpoint
CREATE INDEX `wecom_tag_ops_status_idx` ON `wecom_tag_ops` (`connection_id`,`status`,`updated_at`);--> statement-breakpoint
ALTER TABLE `wecom_push_state` ADD `hint_due_at` integer;--> statement-breakpoint
ALTER TABLE `wecom_push_state` ADD `hint_seen_id` integer DEFAULT 0 NOT NULL;