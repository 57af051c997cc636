-- Files (issue 10): a file area per room and a personal one per account. The bytes live
-- on the shared storage under a key we make (`files/<random hex>`), never under a name a
-- user gave; the database holds what they are.
--
-- Exactly one of `room_id` and `owner_id` is set: the area the file or folder belongs
-- to. When its room or account is deleted both become NULL and the row is a tombstone
-- whose bytes the purge removes (`deleted_at` set: the same). `status` is `ready`,
-- `converting` or `failed` (documents, later); `error` says why a file failed.

-- Participants (not only moderators) may upload to the room's files.
ALTER TABLE rooms ADD COLUMN files_upload BIGINT NOT NULL DEFAULT 0;

CREATE TABLE folders (
    id $ID_PK,
    room_id BIGINT REFERENCES rooms(id) ON DELETE CASCADE,
    owner_id BIGINT REFERENCES users(id) ON DELETE CASCADE,
    parent_id BIGINT REFERENCES folders(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_by BIGINT REFERENCES users(id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX folders_room ON folders(room_id);
CREATE INDEX folders_owner ON folders(owner_id);
CREATE INDEX folders_parent ON folders(parent_id);

CREATE TABLE files (
    id $ID_PK,
    room_id BIGINT REFERENCES rooms(id) ON DELETE SET NULL,
    owner_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
    folder_id BIGINT REFERENCES folders(id) ON DELETE SET NULL,
    name TEXT NOT NULL,
    size BIGINT NOT NULL,
    content_type TEXT NOT NULL,
    storage_key TEXT NOT NULL UNIQUE,
    sha256 TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'ready',
    error TEXT,
    created_by BIGINT REFERENCES users(id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
);
CREATE INDEX files_room ON files(room_id);
CREATE INDEX files_owner ON files(owner_id);
CREATE INDEX files_folder ON files(folder_id);
CREATE INDEX files_deleted ON files(deleted_at);
