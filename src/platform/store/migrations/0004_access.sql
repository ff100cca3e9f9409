CREATE TABLE "app_changes" (
	"id" serial PRIMARY KEY NOT NULL,
	"app_id" integer NOT NULL,
	"model" jsonb NOT NULL,
	"migrations" jsonb NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"requested_by" text NOT NULL,
	"decided_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"decided_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "app_members" (
	"app_id" integer NOT NULL,
	"user_id" integer NOT NULL,
	"role" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "app_members_app_id_user_id_pk" PRIMARY KEY("app_id","user_id")
);
--> statement-breakpoint
ALTER TABLE "api_tokens" ADD COLUMN "app_id" integer;--> statement-breakpoint
ALTER TABLE "api_tokens" ADD COLUMN "user_id" integer;--> statement-breakpoint
ALTER TABLE "api_tokens" ADD COLUMN "expires_at" timestamp with time zone DEFAULT now() + interval '90 days' NOT NULL;--> statement-breakpoint
ALTER TABLE "api_tokens" ADD COLUMN "last_used_at" timestamp with time zone;--> statement-breakpoint
-- Existing apps: what runs everywhere now is what is approved (hand-edited: the column is filled before NOT NULL).
ALTER TABLE "apps" ADD COLUMN "approved_model" jsonb;--> statement-breakpoint
UPDATE "apps" SET "approved_model" = "model";--> statement-breakpoint
ALTER TABLE "apps" ALTER COLUMN "approved_model" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "apps" ADD COLUMN "approved_migrations" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
UPDATE "apps" SET "approved_migrations" = "migrations";--> statement-breakpoint
ALTER TABLE "audit_log" ADD COLUMN "app" text;--> statement-breakpoint
ALTER TABLE "environments" ADD COLUMN "protected" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "app_changes" ADD CONSTRAINT "app_changes_app_id_apps_id_fk" FOREIGN KEY ("app_id") REFERENCES "public"."apps"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "app_members" ADD CONSTRAINT "app_members_app_id_apps_id_fk" FOREIGN KEY ("app_id") REFERENCES "public"."apps"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "app_members" ADD CONSTRAINT "app_members_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_app_id_apps_id_fk" FOREIGN KEY ("app_id") REFERENCES "public"."apps"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
-- Existing data (hand-written, docs/security.md "Upgrading"): production environments become
-- protected; every instance member becomes a developer of every existing app (what a member could
-- do before, minus protected environments); member tokens become instance-scoped developer tokens;
-- tokens made through the API belong to the user who made them (and die with them); every existing
-- token expires 90 days after this migration (the column's default).
UPDATE "environments" SET "protected" = true WHERE "type" = 'production';--> statement-breakpoint
INSERT INTO "app_members" ("app_id", "user_id", "role") SELECT a."id", u."id", 'developer' FROM "apps" a CROSS JOIN "users" u WHERE u."role" = 'member';--> statement-breakpoint
UPDATE "api_tokens" SET "role" = 'developer' WHERE "role" = 'member';--> statement-breakpoint
UPDATE "api_tokens" t SET "user_id" = u."id" FROM "users" u WHERE u."name" = t."created_by";--> statement-breakpoint
UPDATE "audit_log" SET "app" = split_part("target", '/', 1) WHERE split_part("action", '.', 1) IN ('app', 'environment', 'credentials', 'preview');
