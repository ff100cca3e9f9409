ALTER TABLE "apps" ADD COLUMN "preview_parent" text;--> statement-breakpoint
ALTER TABLE "apps" ADD COLUMN "preview_ttl_seconds" integer DEFAULT 604800 NOT NULL;