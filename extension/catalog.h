/*-------------------------------------------------------------------------
 *
 * catalog.h
 *	  Finding biotoken's own relations by extension membership.
 *
 * IDENTIFICATION
 *	  extension/catalog.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef BIOTOKEN_CATALOG_H
#define BIOTOKEN_CATALOG_H

/* biotoken's own tables, as bt_catalog_relid() knows them */
typedef enum BtCatalogRel
{
	BT_CATALOG_ACCESS_LOG,		/* biotoken.access_log */
	BT_CATALOG_AUDIT_GRANTS,	/* biotoken.audit_grants */
	BT_CATALOG_LABEL_LINEAGE,	/* biotoken.label_lineage */
	BT_CATALOG_MODEL_PROFILES,	/* biotoken.model_profiles */
	BT_CATALOG_KEY_CHECKS,		/* biotoken.key_checks */
	BT_CATALOG_NRELS
} BtCatalogRel;

extern Oid	bt_catalog_relid(BtCatalogRel rel);
extern Oid	bt_catalog_extension_oid(void);
extern Oid	bt_catalog_extension_owner(void);
extern const char *bt_catalog_relname(BtCatalogRel rel);
extern void bt_catalog_init(void);

struct BtKey;
extern void bt_catalog_check_key(const struct BtKey *key);

#endif							/* BIOTOKEN_CATALOG_H */
