CREATE TABLE `intake_dead_letters` (
	`id` integer PRIMARY KEY NOT NULL,
	`message_id` text NOT NULL,
	`source_id` text NOT NULL,
	`received_at` integer NOT NULL,
	`event_ids` text NOT NULL,
	`reason` text NOT NULL,
	`attempts` integer NOT NULL,
	`payload_enc` text NOT NULL,
	`dead_at` integer NOT NULL,
	`requeued_at` integer,
	`requeued_by` integer,
	FOREIGN KEY (`requeued_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `intake_dead_letters_message_idx` ON `intake_dead_letters` (`message_id`);--> statement-breakpoint
CREATE INDEX `intake_dead_letters_dead_idx` ON `intake_dead_letters` (`dead_at`);