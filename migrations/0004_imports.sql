CREATE TABLE `import_rows` (
	`import_id` text NOT NULL,
	`row` integer NOT NULL,
	`cells` text NOT NULL,
	`status` text,
	`external_id` text,
	`data` text,
	`phone_hash` text,
	`phone_enc` text,
	`id_number_hash` text,
	`id_number_enc` text,
	`bucket` integer,
	`tag_ids` text,
	`rejections` text,
	`contact_id` integer,
	`before` text,
	PRIMARY KEY(`import_id`, `row`)
);
--> statement-breakpoint
CREATE INDEX `import_rows_status_idx` ON `import_rows` (`import_id`,`status`);--> statement-breakpoint
CREATE INDEX `import_rows_external_idx` ON `import_rows` (`import_id`,`external_id`);--> statement-breakpoint
CREATE TABLE `imports` (
	`id` text PRIMARY KEY NOT NULL,
	`status` text NOT NULL,
	`file_name` text NOT NULL,
	`headers` text NOT NULL,
	`mapping` text NOT NULL,
	`default_kind` text NOT NULL,
	`row_count` integer DEFAULT 0 NOT NULL,
	`counts` text,
	`created_by` integer,
	`created_at` integer NOT NULL,
	`checked_at` integer,
	`applied_at` integer,
	`rolled_back_at` integer,
	CONSTRAINT "imports_status_check" CHECK("imports"."status" in ('staging', 'checked', 'applied', 'rolled_back'))
);
--> statement-breakpoint
CREATE INDEX `imports_created_idx` ON `imports` (`created_at`);