CREATE TABLE `alert_rules` (
	`id` integer PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`kind` text NOT NULL,
	`segment_id` integer,
	`rule_id` integer,
	`source_id` text,
	`threshold` integer,
	`destination_id` integer,
	`department_id` integer,
	`muted_at` integer,
	`muted_until` integer,
	`checked_at` integer NOT NULL,
	`created_by` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`destination_id`) REFERENCES `destinations`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`department_id`) REFERENCES `departments`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`created_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "alert_rules_kind_check" CHECK("alert_rules"."kind" in ('segment_drop', 'segment_rise', 'segment_below', 'rule_silent', 'rule_errors', 'source_silent', 'dead_letters'))
);
--> statement-breakpoint
CREATE INDEX `alert_rules_department_idx` ON `alert_rules` (`department_id`);--> statement-breakpoint
CREATE TABLE `alerts` (
	`id` integer PRIMARY KEY NOT NULL,
	`alert_rule_id` integer NOT NULL,
	`kind` text NOT NULL,
	`state` text NOT NULL,
	`measured` text NOT NULL,
	`raised_at` integer NOT NULL,
	`cleared_at` integer,
	`acknowledged_at` integer,
	`acknowledged_by` integer,
	`delivery_id` text,
	`enqueued_at` integer,
	FOREIGN KEY (`alert_rule_id`) REFERENCES `alert_rules`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`acknowledged_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "alerts_state_check" CHECK("alerts"."state" in ('open', 'acknowledged'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `alerts_episode_idx` ON `alerts` (`alert_rule_id`) WHERE "alerts"."cleared_at" is null;--> statement-breakpoint
CREATE INDEX `alerts_rule_idx` ON `alerts` (`alert_rule_id`,`raised_at`);--> statement-breakpoint
CREATE INDEX `alerts_state_idx` ON `alerts` (`state`,`raised_at`);--> statement-breakpoint
CREATE INDEX `tag_ledger_rule_at_idx` ON `tag_ledger` (`rule_id`,`at`);