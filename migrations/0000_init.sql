CREATE TABLE `audit_log` (
	`id` integer PRIMARY KEY NOT NULL,
	`at` integer NOT NULL,
	`actor_user_id` integer,
	`actor_ip` text,
	`action` text NOT NULL,
	`object_type` text NOT NULL,
	`object_id` text,
	`summary` text,
	`before` text,
	`after` text
);
--> statement-breakpoint
CREATE INDEX `audit_log_at_idx` ON `audit_log` (`at`);--> statement-breakpoint
CREATE INDEX `audit_log_object_idx` ON `audit_log` (`object_type`,`object_id`);--> statement-breakpoint
CREATE INDEX `audit_log_actor_idx` ON `audit_log` (`actor_user_id`,`at`);--> statement-breakpoint
CREATE TABLE `contact_daily_stats` (
	`contact_id` integer NOT NULL,
	`type` text NOT NULL,
	`day` integer NOT NULL,
	`count` integer NOT NULL,
	`amount` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`contact_id`, `type`, `day`)
);
--> statement-breakpoint
CREATE INDEX `contact_daily_stats_type_day_idx` ON `contact_daily_stats` (`type`,`day`,`contact_id`,`count`,`amount`);--> statement-breakpoint
CREATE TABLE `contact_tags` (
	`contact_id` integer NOT NULL,
	`tag_id` integer NOT NULL,
	`source` text NOT NULL,
	`rule_id` integer,
	`rule_version` integer,
	`added_at` integer NOT NULL,
	PRIMARY KEY(`contact_id`, `tag_id`),
	FOREIGN KEY (`contact_id`) REFERENCES `contacts`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`tag_id`) REFERENCES `tags`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `contact_tags_tag_idx` ON `contact_tags` (`tag_id`,`contact_id`);--> statement-breakpoint
CREATE TABLE `contacts` (
	`id` integer PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`external_id` text NOT NULL,
	`name` text NOT NULL,
	`remark` text,
	`gender` text DEFAULT 'unknown' NOT NULL,
	`region` text,
	`city` text,
	`occupation` text,
	`company` text,
	`device` text,
	`source_channel` text,
	`department_id` integer,
	`owner_user_id` integer,
	`phone_enc` text,
	`phone_hash` text,
	`id_number_enc` text,
	`id_number_hash` text,
	`custom` text DEFAULT '{}' NOT NULL,
	`bucket` integer NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`last_active_at` integer,
	`message_count` integer DEFAULT 0 NOT NULL,
	`purchase_count` integer DEFAULT 0 NOT NULL,
	`total_spend` integer DEFAULT 0 NOT NULL,
	`last_purchase_at` integer,
	`invite_count` integer DEFAULT 0 NOT NULL,
	`violation_count` integer DEFAULT 0 NOT NULL,
	FOREIGN KEY (`department_id`) REFERENCES `departments`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`owner_user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "contacts_kind_check" CHECK("contacts"."kind" in ('friend', 'group_member', 'follower', 'wecom_customer')),
	CONSTRAINT "contacts_gender_check" CHECK("contacts"."gender" in ('male', 'female', 'unknown')),
	CONSTRAINT "contacts_bucket_check" CHECK("contacts"."bucket" >= 0 and "contacts"."bucket" < 10000)
);
--> statement-breakpoint
CREATE UNIQUE INDEX `contacts_external_idx` ON `contacts` (`external_id`);--> statement-breakpoint
CREATE INDEX `contacts_department_idx` ON `contacts` (`department_id`);--> statement-breakpoint
CREATE INDEX `contacts_kind_idx` ON `contacts` (`kind`);--> statement-breakpoint
CREATE INDEX `contacts_owner_idx` ON `contacts` (`owner_user_id`);--> statement-breakpoint
CREATE INDEX `contacts_last_active_idx` ON `contacts` (`last_active_at`);--> statement-breakpoint
CREATE INDEX `contacts_spend_idx` ON `contacts` (`total_spend`);--> statement-breakpoint
CREATE INDEX `contacts_region_idx` ON `contacts` (`region`,`city`);--> statement-breakpoint
CREATE INDEX `contacts_phone_hash_idx` ON `contacts` (`phone_hash`);--> statement-breakpoint
CREATE INDEX `contacts_id_number_hash_idx` ON `contacts` (`id_number_hash`);--> statement-breakpoint
CREATE TABLE `custom_fields` (
	`id` integer PRIMARY KEY NOT NULL,
	`key` text NOT NULL,
	`label_zh` text NOT NULL,
	`label_en` text NOT NULL,
	`type` text NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `custom_fields_key_idx` ON `custom_fields` (`key`);--> statement-breakpoint
CREATE TABLE `departments` (
	`id` integer PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`parent_id` integer,
	`path` text NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL
);
--> statement-breakpoint
CREATE INDEX `departments_path_idx` ON `departments` (`path`);--> statement-breakpoint
CREATE INDEX `departments_parent_idx` ON `departments` (`parent_id`);--> statement-breakpoint
CREATE TABLE `event_sources` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`kind` text NOT NULL,
	`secret` text NOT NULL,
	`wecom_token` text,
	`wecom_aes_key` text,
	`wecom_corp_id` text,
	`revoked_at` integer,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`last_event_at` integer,
	`event_count` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE `events` (
	`id` integer PRIMARY KEY NOT NULL,
	`source_id` text NOT NULL,
	`sender_event_id` text NOT NULL,
	`contact_id` integer NOT NULL,
	`type` text NOT NULL,
	`occurred_at` integer NOT NULL,
	`received_at` integer NOT NULL,
	`amount` integer,
	`channel` text,
	`group_id` text,
	`text` text,
	`properties` text DEFAULT '{}' NOT NULL,
	FOREIGN KEY (`contact_id`) REFERENCES `contacts`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "events_type_check" CHECK("events"."type" in ('message', 'group_join', 'group_leave', 'qr_scan', 'purchase', 'article_open', 'invite', 'violation', 'friend_add', 'friend_delete'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `events_sender_idx` ON `events` (`source_id`,`sender_event_id`);--> statement-breakpoint
CREATE INDEX `events_contact_idx` ON `events` (`contact_id`,`occurred_at`);--> statement-breakpoint
CREATE INDEX `events_type_idx` ON `events` (`type`,`occurred_at`);--> statement-breakpoint
CREATE TABLE `rule_versions` (
	`id` integer PRIMARY KEY NOT NULL,
	`rule_id` integer NOT NULL,
	`version` integer NOT NULL,
	`graph` text NOT NULL,
	`logic` text NOT NULL,
	`trigger` text NOT NULL,
	`rollout_percent` integer DEFAULT 100 NOT NULL,
	`note` text,
	`created_by` integer,
	`created_at` integer NOT NULL,
	`published_at` integer,
	FOREIGN KEY (`rule_id`) REFERENCES `rules`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`created_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "rule_versions_rollout_check" CHECK("rule_versions"."rollout_percent" between 1 and 100)
);
--> statement-breakpoint
CREATE UNIQUE INDEX `rule_versions_rule_version_idx` ON `rule_versions` (`rule_id`,`version`);--> statement-breakpoint
CREATE INDEX `rule_versions_trigger_idx` ON `rule_versions` (`trigger`);--> statement-breakpoint
CREATE TABLE `rules` (
	`id` integer PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`description` text,
	`department_id` integer,
	`status` text DEFAULT 'draft' NOT NULL,
	`draft_graph` text NOT NULL,
	`published_version` integer,
	`created_by` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`department_id`) REFERENCES `departments`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`created_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "rules_status_check" CHECK("rules"."status" in ('draft', 'published', 'paused', 'archived'))
);
--> statement-breakpoint
CREATE INDEX `rules_status_idx` ON `rules` (`status`);--> statement-breakpoint
CREATE TABLE `segment_snapshots` (
	`segment_id` integer NOT NULL,
	`day` integer NOT NULL,
	`size` integer NOT NULL,
	PRIMARY KEY(`segment_id`, `day`),
	FOREIGN KEY (`segment_id`) REFERENCES `segments`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `segments` (
	`id` integer PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`description` text,
	`department_id` integer,
	`graph` text NOT NULL,
	`logic` text NOT NULL,
	`created_by` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`department_id`) REFERENCES `departments`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`created_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `sessions` (
	`token_hash` text PRIMARY KEY NOT NULL,
	`user_id` integer NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`revoked_at` integer,
	`ip` text,
	`user_agent` text,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `sessions_user_idx` ON `sessions` (`user_id`);--> statement-breakpoint
CREATE TABLE `tag_groups` (
	`id` integer PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`description` text,
	`color` text DEFAULT '#409eff' NOT NULL,
	`exclusive` integer DEFAULT false NOT NULL,
	`max_tags` integer,
	`department_id` integer,
	`staff_can_apply` integer DEFAULT true NOT NULL,
	`sort_order` integer DEFAULT 0 NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	FOREIGN KEY (`department_id`) REFERENCES `departments`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `tag_groups_name_idx` ON `tag_groups` (`name`);--> statement-breakpoint
CREATE TABLE `tag_ledger` (
	`id` integer PRIMARY KEY NOT NULL,
	`contact_id` integer NOT NULL,
	`tag_id` integer NOT NULL,
	`op` text NOT NULL,
	`source` text NOT NULL,
	`rule_id` integer,
	`rule_version` integer,
	`actor_user_id` integer,
	`batch_id` text,
	`at` integer NOT NULL,
	CONSTRAINT "tag_ledger_op_check" CHECK("tag_ledger"."op" in ('add', 'remove'))
);
--> statement-breakpoint
CREATE INDEX `tag_ledger_contact_idx` ON `tag_ledger` (`contact_id`,`at`);--> statement-breakpoint
CREATE INDEX `tag_ledger_tag_idx` ON `tag_ledger` (`tag_id`,`at`);--> statement-breakpoint
CREATE INDEX `tag_ledger_rule_idx` ON `tag_ledger` (`rule_id`,`rule_version`);--> statement-breakpoint
CREATE INDEX `tag_ledger_at_idx` ON `tag_ledger` (`at`);--> statement-breakpoint
CREATE TABLE `tags` (
	`id` integer PRIMARY KEY NOT NULL,
	`group_id` integer NOT NULL,
	`parent_id` integer,
	`level` integer DEFAULT 1 NOT NULL,
	`name` text NOT NULL,
	`description` text,
	`color` text,
	`status` text DEFAULT 'active' NOT NULL,
	`retired_at` integer,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`last_applied_at` integer,
	FOREIGN KEY (`group_id`) REFERENCES `tag_groups`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "tags_level_check" CHECK("tags"."level" between 1 and 3),
	CONSTRAINT "tags_status_check" CHECK("tags"."status" in ('active', 'retired'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `tags_group_name_idx` ON `tags` (`group_id`,`name`);--> statement-breakpoint
CREATE INDEX `tags_parent_idx` ON `tags` (`parent_id`);--> statement-breakpoint
CREATE TABLE `users` (
	`id` integer PRIMARY KEY NOT NULL,
	`email` text NOT NULL,
	`name` text NOT NULL,
	`role` text NOT NULL,
	`department_id` integer,
	`password_hash` text,
	`password_salt` text,
	`disabled` integer DEFAULT false NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`last_login_at` integer,
	FOREIGN KEY (`department_id`) REFERENCES `departments`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "users_role_check" CHECK("users"."role" in ('super_admin', 'dept_admin', 'staff'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `users_email_idx` ON `users` (`email`);