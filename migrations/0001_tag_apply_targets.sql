CREATE TABLE `tag_apply_targets` (
	`run_id` text NOT NULL,
	`contact_id` integer NOT NULL,
	PRIMARY KEY(`run_id`, `contact_id`)
);
