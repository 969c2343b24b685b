CREATE TABLE `wecom_follow_users` (
	`connection_id` integer NOT NULL,
	`userid` text NOT NULL,
	`synced_at` integer NOT NULL,
	`deleted_at` integer,
	PRIMARY KEY(`connection_id`, `userid`)
);
--> statement-breakpoint
CREATE TABLE `wecom_group_chat_members` (
	`connection_id` integer NOT NULL,
	`chat_id` text NOT NULL,
	`userid` text NOT NULL,
	`type` integer NOT NULL,
	`join_time` integer,
	`join_scene` integer,
	`unionid` text,
	PRIMARY KEY(`connection_id`, `chat_id`, `userid`)
);
--> statement-breakpoint
CREATE TABLE `wecom_group_chats` (
	`connection_id` integer NOT NULL,
	`chat_id` text NOT NULL,
	`name` text,
	`owner` text,
	`create_time` integer,
	`notice` text,
	`member_count` integer DEFAULT 0 NOT NULL,
	`member_version` text,
	`synced_at` integer NOT NULL,
	`dismissed_at` integer,
	PRIMARY KEY(`connection_id`, `chat_id`)
);
--> statement-breakpoint
CREATE TABLE `wecom_relations` (
	`connection_id` integer NOT NULL,
	`userid` text NOT NULL,
	`external_userid` text NOT NULL,
	`remark` text,
	`description` text,
	`add_way` integer,
	`state` text,
	`createtime` integer,
	`tag_ids` text DEFAULT '[]' NOT NULL,
	`synced_at` integer NOT NULL,
	`deleted_at` integer,
	PRIMARY KEY(`connection_id`, `userid`, `external_userid`)
);
--> statement-breakpoint
CREATE INDEX `wecom_relations_ext_idx` ON `wecom_relations` (`external_userid`);--> statement-breakpoint
CREATE TABLE `wecom_sync_runs` (
	`id` integer PRIMARY KEY NOT NULL,
	`connection_id` integer NOT NULL,
	`status` text NOT NULL,
	`phase` text NOT NULL,
	`step` integer DEFAULT 0 NOT NULL,
	`cursor` text DEFAULT '' NOT NULL,
	`user_offset` integer DEFAULT 0 NOT NULL,
	`pending` text DEFAULT '[]' NOT NULL,
	`tag_groups` integer DEFAULT 0 NOT NULL,
	`tags` integer DEFAULT 0 NOT NULL,
	`follow_users` integer DEFAULT 0 NOT NULL,
	`relations` integer DEFAULT 0 NOT NULL,
	`customers` integer DEFAULT 0 NOT NULL,
	`chats` integer DEFAULT 0 NOT NULL,
	`rate_limit_waits` integer DEFAULT 0 NOT NULL,
	`errors` text DEFAULT '[]' NOT NULL,
	`started_by` integer,
	`started_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`finished_at` integer,
	CONSTRAINT "wecom_sync_runs_status_check" CHECK("wecom_sync_runs"."status" in ('running', 'finished', 'failed'))
);
--> statement-breakpoint
CREATE INDEX `wecom_sync_runs_connection_idx` ON `wecom_sync_runs` (`connection_id`,`id`);--> statement-breakpoint
CREATE UNIQUE INDEX `wecom_sync_runs_running_idx` ON `wecom_sync_runs` (`connection_id`) WHERE "wecom_sync_runs"."status" = 'running';--> statement-breakpoint
CREATE TABLE `wecom_tag_map` (
	`connection_id` integer NOT NULL,
	`kind` text NOT NULL,
	`wecom_id` text NOT NULL,
	`segflow_id` integer NOT NULL,
	`wecom_group_id` text,
	`name` text NOT NULL,
	`wecom_order` integer DEFAULT 0 NOT NULL,
	`deleted_at` integer,
	`synced_at` integer NOT NULL,
	PRIMARY KEY(`connection_id`, `kind`, `wecom_id`)
);
--> statement-breakpoint
CREATE INDEX `wecom_tag_map_segflow_idx` ON `wecom_tag_map` (`kind`,`segflow_id`);