CREATE TABLE `security_events` (
	`id` integer PRIMARY KEY NOT NULL,
	`minute` integer NOT NULL,
	`first_at` integer NOT NULL,
	`last_at` integer NOT NULL,
	`subject` text NOT NULL,
	`user_id` integer,
	`ip` text NOT NULL,
	`net` text NOT NULL,
	`method` text NOT NULL,
	`route` text NOT NULL,
	`path` text NOT NULL,
	`status` integer NOT NULL,
	`reason` text NOT NULL,
	`count` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `security_events_key` ON `security_events` (`minute`,`ip`,`subject`,`method`,`route`,`reason`);--> statement-breakpoint
CREATE INDEX `security_events_net_idx` ON `security_events` (`minute`,`net`);--> statement-breakpoint
CREATE INDEX `security_events_last_idx` ON `security_events` (`last_at`);