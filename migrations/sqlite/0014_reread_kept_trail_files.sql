-- Confirming a credential now reads its calls again from the import's trail files, which every
-- import keeps as evidence, so the copy of every other event of the compromise window is no
-- longer written or read.

DROP TABLE unmatched_events;
