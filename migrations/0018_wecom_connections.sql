CREATE TABLE `wecom_connections` (
	`id` integer PRIMARY KEY NOT NULL,
	`corp_id` text NOT NULL,
	`contact_secret_enc` text,
	`contact_secret_changed_at` integer,
	`contact_tested_at` integer,
	`contact_test_errcode` integer,
	`contact_test_errmsg` text,
	`agent_id` integer,
	`agent_secret_enc` text,
	`agent_secret_changed_at` integer,
	`agent_tested_at` integer,
	`agent_test_errcode` integer,
	`agent_test_errmsg` text,
	`event_source_id` text,
	`created_by` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`event_source_id`) REFERENCES `event_sources`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`created_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `wecom_connections_corp_idx` ON `wecom_connections` (`corp_id`);--> statement-breakpoint
CREATE TABLE `wecom_tokens` (
	`connection_id` integer NOT NULL,
	`app` text NOT NULL,
	`token_enc` text,
	`expires_at` integer,
	`stale_at` integer,
	`refreshed_at` integer,
	`version` integer DEFAULT 0 NOT NULL,
	`lease_owner` text,
	`lease_until` integer,
	PRIMARY KEY(`connection_id`, `app`),
	FOREIGN KEY (`connection_id`) REFERENCES `wecom_connections`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "wecom_tokens_app_check" CHECK("wecom_tokens"."app" in ('contact', 'agent'))
);
