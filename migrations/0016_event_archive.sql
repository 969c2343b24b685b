CREATE TABLE `event_archive` (
	`day` integer NOT NULL,
	`chunk` integer NOT NULL,
	`key` text NOT NULL,
	`rows` integer NOT NULL,
	`first_contact` integer NOT NULL,
	`last_contact` integer NOT NULL,
	`max_id` integer NOT NULL,
	`checksum` text NOT NULL,
	`bytes` integer NOT NULL,
	`written_at` integer NOT NULL,
	`deleted_at` integer,
	PRIMARY KEY(`day`, `chunk`)
);
--> statement-breakpoint
CREATE INDEX `event_archive_contact_idx` ON `event_archive` (`first_contact`,`last_contact`);