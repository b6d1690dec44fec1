-- Keyset pages (API 2.0): recordings and share links newest first, comments by their moment in
-- the recording; each key with the id as tiebreaker. The access log pages by its id (its key).
CREATE INDEX videos_by_upload ON videos (uploaded_at DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX links_by_creation ON links (created_at DESC, id DESC);
CREATE INDEX comments_by_moment ON comments (video_id, at_seconds, created_at, id);
