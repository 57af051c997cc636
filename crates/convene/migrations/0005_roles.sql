-- Roles (issue 8): organisers own rooms, accounts choose a language, and logins are
-- unique whatever their case.

-- The account that runs the room (its creator, unless an administrator changed it); NULL
-- for rooms made before owners existed, or whose owner was deleted.
ALTER TABLE rooms ADD COLUMN owner_id BIGINT REFERENCES users(id) ON DELETE SET NULL;
CREATE INDEX rooms_owner ON rooms(owner_id);

-- The interface language the account chose (`en`, `de`, …); NULL: the browser's.
ALTER TABLE users ADD COLUMN language TEXT;

-- Logins are matched without regard to case, so `tom.b` and `Tom.B` cannot both exist.
-- An install may already hold such pairs: the oldest account (lowest id) keeps its login,
-- every later one is renamed to `<login>.dup-<id>` (for example `Tom.B.dup-17`), so this
-- migration always applies. An administrator then tells those people their new login (or
-- renames or deletes the accounts); `convene user list` shows them.
UPDATE users SET login = login || '.dup-' || CAST(id AS TEXT)
 WHERE EXISTS (SELECT 1 FROM users o
               WHERE lower(o.login) = lower(users.login) AND o.id < users.id);
CREATE UNIQUE INDEX users_login_lower ON users (lower(login));
