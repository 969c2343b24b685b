CREATE TABLE `rule_suggestions` (
	`id` integer PRIMARY KEY NOT NULL,
	`department_id` integer,
	`status` text NOT NULL,
	`progress` integer DEFAULT 0 NOT NULL,
	`loaded` integer DEFAULT 0 NOT NULL,
	`total` integer DEFAULT 0 NOT NULL,
	`params` text NOT NULL,
	`outcome_name` text,
	`result` text,
	`error_code` text,
	`error` text,
	`rule_ids` text DEFAULT '[]' NOT NULL,
	`created_by` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`finished_at` integer,
	FOREIGN KEY (`department_id`) REFERENCES `departments`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`created_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "rule_suggestions_status_check" CHECK("rule_suggestions"."status" in ('queued', 'running', 'done', 'failed'))
);
--> statement-breakpoint
CREATE INDEX `rule_suggestions_created_idx` ON `rule_suggestions` (`created_at`);