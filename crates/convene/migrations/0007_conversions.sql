-- Document conversion (issue 10, item 2): a job per document, claimed by one node at a
-- time, and the pages it made. A job is `queued`, `running` (claimed by `claimed_by`
-- until `claimed_until`, a lease on the database clock, renewed while it works; a
-- claimer that died lets it lapse and any node claims the job again), `done` or
-- `failed` (`error` says why). `attempts` counts claims and fences a stale claimer:
-- only the claim with the current count may finish the job. The pages' bytes live on
-- the shared storage under keys we make (`pages/<random hex>/<n>.png`; an image's one
-- page is the original itself). `kind` is `pdf`, `image` or `office`: a node without
-- LibreOffice leaves office jobs to a node that has it, for a while.

CREATE TABLE conversions (
    id $ID_PK,
    file_id BIGINT NOT NULL UNIQUE REFERENCES files(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued',
    claimed_by BIGINT,
    claimed_until BIGINT,
    attempts BIGINT NOT NULL DEFAULT 0,
    error TEXT,
    pages_done BIGINT NOT NULL DEFAULT 0,
    pages_total BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX conversions_state ON conversions(state, claimed_until);

CREATE TABLE file_pages (
    file_id BIGINT NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    number BIGINT NOT NULL,
    width BIGINT NOT NULL,
    height BIGINT NOT NULL,
    storage_key TEXT NOT NULL UNIQUE,
    PRIMARY KEY (file_id, number)
);
