CREATE TABLE `publish_plan_runs` (
	`plan_id` integer NOT NULL,
	`step` integer NOT NULL,
	`version` integer NOT NULL,
	`ran_at` integer NOT NULL,
	PRIMARY KEY(`plan_id`, `step`),
	FOREIGN KEY (`plan_id`) REFERENCES `publish_plans`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `publish_plans` (
	`id` integer PRIMARY KEY NOT NULL,
	`rule_id` integer NOT NULL,
	`state` text NOT NULL,
	`steps` text NOT NULL,
	`next_step` integer DEFAULT 0 NOT NULL,
	`graph_hash` text NOT NULL,
	`graph` text NOT NULL,
	`preview` text NOT NULL,
	`base_version` integer,
	`note` text,
	`reason` text,
	`requested_by` integer NOT NULL,
	`requested_at` integer NOT NULL,
	`decided_by` integer,
	`decided_at` integer,
	`resumed_at` integer,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`rule_id`) REFERENCES `rules`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`requested_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`decided_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "publish_plans_state_check" CHECK("publish_plans"."state" in ('awaiting_approval', 'scheduled', 'paused', 'done', 'failed', 'rejected', 'cancelled'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `publish_plans_live_idx` ON `publish_plans` (`rule_id`) WHERE "publish_plans"."state" in ('awaiting_approval', 'scheduled', 'paused');--> statement-breakpoint
CREATE INDEX `publish_plans_state_idx` ON `publish_plans` (`state`);--> statement-breakpoint
CREATE TABLE `publish_policies` (
	`department_id` integer PRIMARY KEY NOT NULL,
	`require_approval` integer NOT NULL,
	`updated_by` integer,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`department_id`) REFERENCES `departments`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`updated_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
