CREATE TABLE `department_daily_counts` (
	`day` integer NOT NULL,
	`department_id` integer NOT NULL,
	`contacts` integer NOT NULL,
	`tagged` integer NOT NULL,
	`counted_at` integer NOT NULL,
	PRIMARY KEY(`day`, `department_id`)
);
--> statement-breakpoint
CREATE TABLE `intake_hourly` (
	`hour` integer NOT NULL,
	`source_id` text NOT NULL,
	`events` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`hour`, `source_id`)
);
--> statement-breakpoint
CREATE TABLE `rule_activity_hourly` (
	`rule_id` integer NOT NULL,
	`hour` integer NOT NULL,
	`added` integer DEFAULT 0 NOT NULL,
	`removed` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`rule_id`, `hour`)
);
--> statement-breakpoint
CREATE TABLE `segment_snapshot_departments` (
	`segment_id` integer NOT NULL,
	`day` integer NOT NULL,
	`department_id` integer NOT NULL,
	`size` integer NOT NULL,
	PRIMARY KEY(`segment_id`, `day`, `department_id`)
);
--> statement-breakpoint
CREATE TABLE `tag_group_daily_coverage` (
	`day` integer NOT NULL,
	`department_id` integer NOT NULL,
	`group_id` integer NOT NULL,
	`contacts` integer NOT NULL,
	PRIMARY KEY(`day`, `department_id`, `group_id`)
);
--> statement-breakpoint
CREATE INDEX `deliveries_open_idx` ON `deliveries` (`status`) WHERE "deliveries"."status" <> 'delivered';