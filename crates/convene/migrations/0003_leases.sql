-- Hosting is a lease: a node holds its rooms while `lease_until` (database clock) is in
-- the future. `lease_epoch` grows at every registration and whenever the node is
-- declared dead, so a renewal under an old epoch fails: the node learns it lost its rooms.
-- Each room assignment records the epoch of its host at the time; it is valid only while
-- that epoch is still the host's.
ALTER TABLE servers ADD COLUMN lease_epoch BIGINT NOT NULL DEFAULT 0;
ALTER TABLE servers ADD COLUMN lease_until BIGINT;
-- 0 while a part of the node (media, event listener) is down: placement skips it.
ALTER TABLE servers ADD COLUMN ready BIGINT NOT NULL DEFAULT 1;
ALTER TABLE room_hosts ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0;
