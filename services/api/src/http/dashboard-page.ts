import { dashboardHtml } from '@aevo/projections';

/**
 * The dashboard: one page of views (hash routes), rendered by the script shared with `aevo report`
 * (@aevo/projections views/page.ts). It reads the REST views and follows /api/stream (server-sent events) to refresh.
 */
export const DASHBOARD_HTML = dashboardHtml();
