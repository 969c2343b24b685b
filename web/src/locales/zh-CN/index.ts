import common from './common';
import contacts from './contacts';
import tags from './tags';
import taxonomy from './taxonomy';
import rules from './rules';
import segments from './segments';
import auth from './auth';
import audit from './audit';
import people from './people';
import sources from './sources';
import destinations from './destinations';
import errors from './errors';
import imports from './imports';
import rollback from './rollback';
import security from './security';
import outbound from './outbound';
import wecom from './wecom';
import home from './home';
import alerts from './alerts';
import publishing from './publishing';
import segmentPage from './segment-page';
import templates from './templates';
import band from './band';
import learn from './learn';
import wecomSync from './wecom-sync';
import segmentRef from './segment-ref';

/**
 * Simplified Chinese: the product's first language. One module per screen (plus common) so
 * features add their strings without touching each other's; `en/` mirrors every key.
 */
export default {
  ...common,
  ...contacts,
  ...tags,
  ...taxonomy,
  ...rules,
  ...segments,
  ...auth,
  ...audit,
  ...people,
  ...sources,
  ...destinations,
  ...errors,
  ...imports,
  ...rollback,
  ...security,
  ...outbound,
  ...wecom,
  ...wecomSync,
  ...home,
  ...alerts,
  ...publishing,
  ...segmentPage,
  ...templates,
  ...band,
  ...learn,
  ...segmentRef,
};
