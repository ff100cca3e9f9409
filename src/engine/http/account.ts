/**
 * @module What clients ask about the caller: `/users/me`, `/auth`, organizations, regions.
 * The engine has one local user and no organizations.
 */
import { Hono } from 'hono';
import { REGIONS } from './regions.ts';

export const LOCAL_USER_ID = '00000000-0000-4000-8000-000000000001';

export function accountRoutes(): Hono {
  const app = new Hono();
  app.get('/users/me', (c) =>
    c.json({
      id: LOCAL_USER_ID,
      email: 'local@arbor.invalid',
      login: 'local',
      name: 'Arbor engine',
      last_name: '',
      image: '',
      active_seconds_limit: 0,
      billing_account: { state: 'active', payment_method: 'none', subscription_type: 'scale', payment_source: { type: 'none' }, quota_reset_at_last: '0001-01-01T00:00:00Z', email: 'local@arbor.invalid', address_city: '', address_country: '', address_line1: '', address_line2: '', address_postal_code: '', address_state: '', orb_portal_url: '', name: 'local', tax_id: '', tax_id_type: '' },
      auth_accounts: [],
      max_autoscaling_limit: 16,
      projects_limit: 1000,
      branches_limit: 5000,
      plan: 'scale',
    }),
  );
  app.get('/auth', (c) => c.json({ account_id: LOCAL_USER_ID, auth_method: 'api_key_user' }));
  app.get('/users/me/organizations', (c) => c.json({ organizations: [] }));
  app.get('/regions', (c) => c.json({ regions: REGIONS }));
  return app;
}
