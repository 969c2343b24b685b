CREATE TABLE `deliveries` (
	`id` text PRIMARY KEY NOT NULL,
	`destination_id` integer NOT NULL,
	`kind` text NOT NULL,
	`rule_id` integer NOT NULL,
	`rule_version` integer NOT NULL,
	`node_id` text NOT NULL,
	`contact_id` integer NOT NULL,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`last_attempt_at` integer,
	`last_status` integer,
	`last_reason` text,
	`next_attempt_at` integer,
	`message_enc` text,
	`created_at` integer NOT NULL,
	`delivered_at` integer,
	CONSTRAINT "deliveries_status_check" CHECK("deliveries"."status" in ('delivered', 'failed', 'dead', 'queued'))
);
--> statement-breakpoint
CREATE INDEX `deliveries_destination_status_idx` ON `deliveries` (`destination_id`,`status`,`last_attempt_at`);--> statement-breakpoint
CREATE TABLE `destinations` (
	`id` integer PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`kind` text NOT NULL,
	`url` text NOT NULL,
	`secret_enc` text NOT NULL,
	`timeout_ms` integer DEFAULT 10000 NOT NULL,
	`concurrency` integer DEFAULT 5 NOT NULL,
	`created_by` integer,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`revoked_at` integer,
	FOREIGN KEY (`created_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "destinations_kind_check" CHECK("destinations"."kind" in ('webhook', 'notify'))
);
