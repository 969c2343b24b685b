-- The home's hourly rollups, kept in the same transaction as the rows they count (written by hand:
-- drizzle-kit does not generate triggers). An event or ledger row that is not inserted (a dedupe
-- conflict, a rolled-back batch) is not counted either.
CREATE TRIGGER `events_intake_hourly` AFTER INSERT ON `events` BEGIN
  INSERT INTO `intake_hourly` (`hour`, `source_id`, `events`) VALUES (NEW.`received_at` / 3600000, NEW.`source_id`, 1)
  ON CONFLICT (`hour`, `source_id`) DO UPDATE SET `events` = `events` + 1;
END;
--> statement-breakpoint
CREATE TRIGGER `tag_ledger_rule_activity` AFTER INSERT ON `tag_ledger` WHEN NEW.`source` = 'rule' AND NEW.`rule_id` IS NOT NULL BEGIN
  INSERT INTO `rule_activity_hourly` (`rule_id`, `hour`, `added`, `removed`)
  VALUES (NEW.`rule_id`, NEW.`at` / 3600000, NEW.`op` = 'add', NEW.`op` = 'remove')
  ON CONFLICT (`rule_id`, `hour`) DO UPDATE SET `added` = `added` + excluded.`added`, `removed` = `removed` + excluded.`removed`;
END;
--> statement-breakpoint
-- The last 31 days of rule activity already in the ledger (an index range on tag_ledger_at_idx).
-- Events are not backfilled: events has no index on received_at, and a scan of every stored
-- event in a migration is not worth a chart of 48 hours that fills itself in two days.
INSERT INTO `rule_activity_hourly` (`rule_id`, `hour`, `added`, `removed`)
SELECT `rule_id`, `at` / 3600000, SUM(`op` = 'add'), SUM(`op` = 'remove') FROM `tag_ledger`
WHERE `at` >= (unixepoch() - 31 * 86400) * 1000 AND `source` = 'rule' AND `rule_id` IS NOT NULL
GROUP BY 1, 2;
