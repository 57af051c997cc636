-- Thumbnails and page counts of converted files (issue 10): the thumbnail's key on the
-- shared storage (a PNG of at most 256 x 256 pixels of the first page, made with the
-- pages) and how many pages the conversion made, so a listing needs neither a join nor
-- a decoding. Files converted before this migration get their page count; their
-- thumbnail stays missing until they are converted again.

ALTER TABLE files ADD COLUMN thumbnail_key TEXT;
ALTER TABLE files ADD COLUMN page_count BIGINT;
UPDATE files SET page_count = (SELECT COUNT(*) FROM file_pages WHERE file_pages.file_id = files.id)
    WHERE status = 'ready' AND EXISTS (SELECT 1 FROM file_pages WHERE file_pages.file_id = files.id);
