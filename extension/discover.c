/*-------------------------------------------------------------------------
 *
 * discover.c
 *	  Discovery: suggest columns to classify, from their names and from
 *	  validated samples of their content.
 *
 * biotoken.discover() walks the catalog for columns that are not classified
 * yet (by type, label, a parent's label or lineage: labels.h), matches their
 * names against a table of terms in several languages and romanizations,
 * and checks a bounded sample of their values with real validators: the
 * check character of Chinese resident identity numbers (ISO 7064
 * MOD 11-2), IBAN mod 97, Luhn and issuer ranges of payment cards, and the
 * structure of US social security numbers.  The validators are pure
 * functions of their input (no allocation, no error, no catalog access) and
 * are also exposed to SQL as biotoken.valid_*(text), for DBAs.
 *
 * Discovery runs with the caller's privileges: it samples only columns the
 * caller may SELECT.  It runs no one else's code: the caller is a
 * biotoken_admin member, and a table owner's function run as that caller
 * could grant itself an audit grant.  So every query runs with search_path
 * = pg_catalog, pg_temp (no operator or function of another schema can
 * capture a name), the sample is read with row_security = off (a table
 * whose row-level security would apply to the caller is skipped with a
 * NOTICE instead of running its policies), the sample query casts only
 * integer and string columns (whose casts to text are built in or binary)
 * and calls only pg_catalog functions, and it runs as a
 * security-restricted operation, as ANALYZE does.  Discovery takes
 * AccessShareLock on each sampled table without waiting and on its
 * partitions and children waiting 100 ms at most (a table locked by
 * someone else is skipped with a NOTICE: discovery does not queue behind
 * DDL), and samples each table in a subtransaction, so one table that
 * cannot be read does not end the run.  Sampled values never leave this
 * file: reasons and notices carry counts, never values.
 *
 * Memory: the result rows go to the tuplestore of InitMaterializedSRF (per
 * query); everything else lives in the SPI procedure context, and each
 * table's sample in a context that is reset after the table.
 *
 * IDENTIFICATION
 *	  extension/discover.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "port/pg_bitutils.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "biotoken.h"
#include "labels.h"

PG_FUNCTION_INFO_V1(biotoken_valid_cn_resident_id);
PG_FUNCTION_INFO_V1(biotoken_valid_iban);
PG_FUNCTION_INFO_V1(biotoken_valid_payment_card);
PG_FUNCTION_INFO_V1(biotoken_valid_us_ssn);
PG_FUNCTION_INFO_V1(biotoken_discover);

/* ----------------------------------------------------------------
 * Validators
 *
 * Each takes a string that need not be NUL-terminated, ignores leading and
 * trailing ASCII white space, and says whether the rest is a valid number
 * of its kind.  None allocates, throws or reads the catalog: discovery
 * runs all four over every sampled value.
 * ----------------------------------------------------------------
 */

/* longest input worth looking at: an IBAN in print form is 34 + 8 chars */
#define BT_VALIDATE_MAX_LEN		64

typedef enum BtValidator
{
	BT_VAL_NONE = -1,
	BT_VAL_CN_ID = 0,			/* Chinese resident identity number */
	BT_VAL_IBAN,				/* IBAN */
	BT_VAL_CARD,				/* payment card number */
	BT_VAL_SSN,					/* US social security number */
	BT_NUM_VALIDATORS
} BtValidator;

static inline bool
is_ascii_digit(char c)
{
	return c >= '0' && c <= '9';
}

static inline bool
is_ascii_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
		c == '\v';
}

/*
 * Strip leading and trailing ASCII white space: values often come from
 * char(n) columns or hand-typed forms.
 */
static void
trim_space(const char **s, size_t *len)
{
	while (*len > 0 && is_ascii_space(**s))
	{
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && is_ascii_space((*s)[*len - 1]))
		(*len)--;
}

static bool
is_leap_year(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/*
 * A real calendar date.  Years are limited to 1900-2099: nobody alive was
 * born earlier, and comparing with today would make the SQL function
 * depend on the clock, so it could not be IMMUTABLE (and used in a CHECK
 * constraint or an index).
 */
static bool
valid_birth_date(int y, int m, int d)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int			last;

	if (y < 1900 || y > 2099 || m < 1 || m > 12 || d < 1)
		return false;
	last = mdays[m - 1];
	if (m == 2 && is_leap_year(y))
		last = 29;
	return d <= last;
}

/*
 * The province-level codes of GB/T 2260 that begin a resident identity
 * number (11 Beijing ... 65 Xinjiang, 71 Taiwan), and 81, 82, 83, which
 * begin the numbers of residence permits for residents of Hong Kong, Macao
 * and Taiwan (same layout and check character).
 */
static bool
valid_cn_region(int code)
{
	switch (code)
	{
		case 11: case 12: case 13: case 14: case 15:
		case 21: case 22: case 23:
		case 31: case 32: case 33: case 34: case 35: case 36: case 37:
		case 41: case 42: case 43: case 44: case 45: case 46:
		case 50: case 51: case 52: case 53: case 54:
		case 61: case 62: case 63: case 64: case 65:
		case 71:
		case 81: case 82: case 83:
			return true;
	}
	return false;
}

/*
 * bt_valid_cn_resident_id
 *		A citizen identity number of the People's Republic of China
 *		(GB 11643-1999): 17 digits and a check character.
 *
 * Digits 1-2 are a province code, 7-14 the date of birth (YYYYMMDD),
 * 15-17 a sequence number, and the 18th the ISO 7064 MOD 11-2 check
 * character: sum the first 17 digits weighted by 2^(17-i) mod 11, and the
 * check is "10X98765432"[sum mod 11].  A lower-case x is accepted, as forms
 * often store it so.  The old 15-digit numbers (no check character, issued
 * before 1999 and no longer valid) are not accepted.
 */
static bool
bt_valid_cn_resident_id(const char *s, size_t len)
{
	static const int weights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
	static const char checks[11] = {'1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'};
	int			sum = 0;
	int			i;
	char		last;
	int			year,
				month,
				day;

	trim_space(&s, &len);
	if (len != 18)
		return false;
	for (i = 0; i < 17; i++)
	{
		if (!is_ascii_digit(s[i]))
			return false;
		sum += (s[i] - '0') * weights[i];
	}
	last = s[17] == 'x' ? 'X' : s[17];
	if (last != checks[sum % 11])
		return false;

	if (!valid_cn_region((s[0] - '0') * 10 + (s[1] - '0')))
		return false;

	year = (s[6] - '0') * 1000 + (s[7] - '0') * 100 + (s[8] - '0') * 10 + (s[9] - '0');
	month = (s[10] - '0') * 10 + (s[11] - '0');
	day = (s[12] - '0') * 10 + (s[13] - '0');
	return valid_birth_date(year, month, day);
}

/*
 * IBAN lengths by country, from the SWIFT IBAN registry (ISO 13616) as of
 * 2024.  Countries that only publish "IBAN-like" formats outside the
 * registry are not listed: their numbers are not IBANs.  Sorted, for
 * bsearch.
 */
typedef struct BtIbanCountry
{
	char		code[3];
	uint8		length;
} BtIbanCountry;

static const BtIbanCountry bt_iban_countries[] = {
	{"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20},
	{"BE", 16}, {"BG", 22}, {"BH", 22}, {"BI", 27}, {"BR", 29}, {"BY", 28},
	{"CH", 21}, {"CR", 22}, {"CY", 28}, {"CZ", 24}, {"DE", 22}, {"DJ", 27},
	{"DK", 18}, {"DO", 28}, {"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18},
	{"FK", 18}, {"FO", 18}, {"FR", 27}, {"GB", 22}, {"GE", 22}, {"GI", 23},
	{"GL", 18}, {"GR", 27}, {"GT", 28}, {"HN", 28}, {"HR", 21}, {"HU", 28},
	{"IE", 22}, {"IL", 23}, {"IQ", 23}, {"IS", 26}, {"IT", 27}, {"JO", 30},
	{"KW", 30}, {"KZ", 20}, {"LB", 28}, {"LC", 32}, {"LI", 21}, {"LT", 20},
	{"LU", 20}, {"LV", 21}, {"LY", 25}, {"MC", 27}, {"MD", 24}, {"ME", 22},
	{"MK", 19}, {"MN", 20}, {"MR", 27}, {"MT", 31}, {"MU", 30}, {"NI", 28},
	{"NL", 18}, {"NO", 15}, {"OM", 23}, {"PK", 24}, {"PL", 28}, {"PS", 29},
	{"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"RU", 33}, {"SA", 24},
	{"SC", 31}, {"SD", 18}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27},
	{"SO", 23}, {"ST", 25}, {"SV", 28}, {"TL", 23}, {"TN", 24}, {"TR", 26},
	{"UA", 29}, {"VA", 22}, {"VG", 24}, {"XK", 20}, {"YE", 30}
};

#define BT_IBAN_MAX_LEN		34

static int
iban_country_cmp(const void *a, const void *b)
{
	return strcmp(((const BtIbanCountry *) a)->code,
				  ((const BtIbanCountry *) b)->code);
}

/*
 * bt_valid_iban
 *		An International Bank Account Number (ISO 13616).
 *
 * Accepted: the electronic form ("DE89370400440532013000") and the print
 * form in groups separated by single spaces, letters of either case.  The
 * country must be in the registry and the length must be its length; the
 * check digits must be 02-98; and moving the first four characters to the
 * end, reading letters as 10-35, the number must be 1 mod 97.  The number
 * has up to 60 digits, so the remainder is computed digit by digit.  The
 * per-country layout of the BBAN is not checked.
 */
static bool
bt_valid_iban(const char *s, size_t len)
{
	char		buf[BT_IBAN_MAX_LEN];
	int			n = 0;
	size_t		i;
	BtIbanCountry key;
	const BtIbanCountry *country;
	int			check;
	int			rem = 0;
	int			k;

	trim_space(&s, &len);
	if (len > BT_VALIDATE_MAX_LEN)
		return false;
	for (i = 0; i < len; i++)
	{
		char		c = s[i];

		if (c == ' ')
		{
			/* single spaces between characters only (trimmed above) */
			if (s[i - 1] == ' ')
				return false;
			continue;
		}
		if (n >= BT_IBAN_MAX_LEN)
			return false;
		if (c >= 'a' && c <= 'z')
			c = c - 'a' + 'A';
		if (!is_ascii_digit(c) && !(c >= 'A' && c <= 'Z'))
			return false;
		buf[n++] = c;
	}
	if (n < 5)
		return false;
	if (!(buf[0] >= 'A' && buf[0] <= 'Z' && buf[1] >= 'A' && buf[1] <= 'Z'))
		return false;
	if (!is_ascii_digit(buf[2]) || !is_ascii_digit(buf[3]))
		return false;
	check = (buf[2] - '0') * 10 + (buf[3] - '0');
	if (check < 2 || check > 98)
		return false;

	key.code[0] = buf[0];
	key.code[1] = buf[1];
	key.code[2] = '\0';
	country = bsearch(&key, bt_iban_countries, lengthof(bt_iban_countries),
					  sizeof(BtIbanCountry), iban_country_cmp);
	if (country == NULL || country->length != n)
		return false;

	/* BBAN first, then country code and check digits */
	for (k = 0; k < n; k++)
	{
		char		c = buf[(k + 4) % n];

		if (is_ascii_digit(c))
			rem = (rem * 10 + (c - '0')) % 97;
		else
			rem = (rem * 100 + (c - 'A' + 10)) % 97;
	}
	return rem == 1;
}

/*
 * Issuer identification number ranges of payment card schemes, with the
 * card lengths each issues.  A card number validates only if some range
 * covers both its prefix and its length: Luhn alone passes one random
 * number in ten.  Ranges are from the schemes' published IIN tables; a
 * prefix of "digits" digits lies in [low, high].
 */
typedef struct BtCardRange
{
	uint8		digits;			/* length of the prefix compared */
	uint32		low;
	uint32		high;
	uint8		min_len;		/* shortest card number */
	uint8		max_len;		/* longest card number */
	uint8		only_len;		/* if not 0, min..max holds only these: */
	uint8		only_len2;		/* Visa issues 13, 16 and 19 digits */
} BtCardRange;

static const BtCardRange bt_card_ranges[] = {
	{1, 1, 1, 15, 15, 0, 0},	/* UATP */
	{4, 2200, 2204, 16, 19, 0, 0},	/* Mir */
	{4, 2221, 2720, 16, 16, 0, 0},	/* Mastercard */
	{3, 300, 305, 14, 19, 0, 0},	/* Diners Club (Carte Blanche) */
	{4, 3095, 3095, 14, 19, 0, 0},	/* Diners Club */
	{2, 34, 34, 15, 15, 0, 0},	/* American Express */
	{4, 3528, 3589, 16, 19, 0, 0},	/* JCB */
	{2, 36, 36, 14, 19, 0, 0},	/* Diners Club International */
	{2, 37, 37, 15, 15, 0, 0},	/* American Express */
	{2, 38, 39, 16, 19, 0, 0},	/* Diners Club */
	{1, 4, 4, 13, 19, 13, 16},	/* Visa: 13, 16 or 19 digits (below) */
	{4, 5018, 5018, 13, 19, 0, 0},	/* Maestro */
	{4, 5019, 5019, 16, 16, 0, 0},	/* Dankort */
	{4, 5020, 5020, 13, 19, 0, 0},	/* Maestro */
	{4, 5038, 5038, 13, 19, 0, 0},	/* Maestro */
	{4, 5041, 5041, 16, 16, 0, 0},	/* Elo */
	{6, 506099, 506198, 16, 19, 0, 0},	/* Verve */
	{4, 5066, 5067, 16, 16, 0, 0},	/* Elo */
	{6, 507865, 507964, 16, 19, 0, 0},	/* Verve */
	{3, 508, 509, 16, 16, 0, 0},	/* RuPay, Elo */
	{2, 51, 55, 16, 16, 0, 0},	/* Mastercard */
	{4, 5893, 5893, 13, 19, 0, 0},	/* Maestro */
	{2, 60, 60, 16, 16, 0, 0},	/* RuPay, Hipercard */
	{4, 6011, 6011, 16, 19, 0, 0},	/* Discover */
	{2, 62, 62, 16, 19, 0, 0},	/* UnionPay */
	{4, 6304, 6304, 13, 19, 0, 0},	/* Maestro */
	{3, 636, 636, 16, 19, 0, 0},	/* InterPayment */
	{3, 637, 639, 16, 16, 0, 0},	/* InstaPayment */
	{3, 644, 649, 16, 19, 0, 0},	/* Discover */
	{2, 65, 65, 16, 19, 0, 0},	/* Discover, RuPay, Troy, Verve */
	{4, 6759, 6759, 13, 19, 0, 0},	/* Maestro UK */
	{4, 6761, 6763, 13, 19, 0, 0},	/* Maestro */
	{2, 81, 82, 16, 16, 0, 0},	/* RuPay */
	{4, 9792, 9792, 16, 16, 0, 0}	/* Troy */
};

#define BT_CARD_MIN_LEN		13
#define BT_CARD_MAX_LEN		19

static bool
card_issuer_known(const char *digits, int n)
{
	int			i;

	for (i = 0; i < lengthof(bt_card_ranges); i++)
	{
		const BtCardRange *r = &bt_card_ranges[i];
		uint32		prefix = 0;
		int			j;

		for (j = 0; j < r->digits; j++)
			prefix = prefix * 10 + (digits[j] - '0');
		if (prefix < r->low || prefix > r->high)
			continue;
		if (n < r->min_len || n > r->max_len)
			continue;
		if (r->only_len != 0 &&
			n != r->only_len && n != r->only_len2 && n != r->max_len)
			continue;
		return true;
	}
	return false;
}

/*
 * bt_valid_payment_card
 *		A payment card number (primary account number, ISO/IEC 7812).
 *
 * 13 to 19 digits, optionally grouped by single spaces or dashes; the Luhn
 * check digit must hold (double every second digit from the right, sum
 * the digits, the total must be 0 mod 10); and the prefix and length must
 * belong to a known scheme (bt_card_ranges), e.g. Visa 4, Mastercard
 * 51-55 and 2221-2720, Amex 34 and 37, Discover 6011, 644-649 and 65,
 * UnionPay 62, JCB 3528-3589.
 */
static bool
bt_valid_payment_card(const char *s, size_t len)
{
	char		digits[BT_CARD_MAX_LEN];
	int			n = 0;
	size_t		i;
	int			sum = 0;
	int			k;

	trim_space(&s, &len);
	if (len > BT_VALIDATE_MAX_LEN)
		return false;
	for (i = 0; i < len; i++)
	{
		char		c = s[i];

		if (c == ' ' || c == '-')
		{
			/* a separator sits between two digits */
			if (i == 0 || i + 1 == len || !is_ascii_digit(s[i - 1]) ||
				!is_ascii_digit(s[i + 1]))
				return false;
			continue;
		}
		if (!is_ascii_digit(c) || n >= BT_CARD_MAX_LEN)
			return false;
		digits[n++] = c;
	}
	if (n < BT_CARD_MIN_LEN)
		return false;

	for (k = 0; k < n; k++)
	{
		int			d = digits[n - 1 - k] - '0';

		if (k % 2 == 1)
		{
			d *= 2;
			if (d > 9)
				d -= 9;
		}
		sum += d;
	}
	if (sum % 10 != 0)
		return false;

	return card_issuer_known(digits, n);
}

/*
 * bt_valid_us_ssn
 *		A US social security number: AAA-GG-SSSS, or the same 9 digits
 *		without dashes.  *dashed says which form it was.
 *
 * The area is not 000, 666 or 900-999 (the 9xx are ITINs, not SSNs), the
 * group not 00 and the serial not 0000 (SSA rules since the 2011
 * randomization); 078-05-1120 and 219-09-9999, published in advertising
 * and voided, are refused too.  There is no check digit: nine random
 * digits are a valid SSN nine times in ten, so discovery counts only the
 * dashed form as evidence from content alone (see column_suggestion).
 */
static bool
bt_valid_us_ssn(const char *s, size_t len, bool *dashed)
{
	char		d[9];
	int			n = 0;
	size_t		i;
	int			area,
				group,
				serial;

	*dashed = false;
	trim_space(&s, &len);
	if (len == 11)
	{
		if (s[3] != '-' || s[6] != '-')
			return false;
		*dashed = true;
	}
	else if (len != 9)
		return false;
	for (i = 0; i < len; i++)
	{
		if (len == 11 && (i == 3 || i == 6))
			continue;
		if (!is_ascii_digit(s[i]))
			return false;
		d[n++] = s[i];
	}

	area = (d[0] - '0') * 100 + (d[1] - '0') * 10 + (d[2] - '0');
	group = (d[3] - '0') * 10 + (d[4] - '0');
	serial = (d[5] - '0') * 1000 + (d[6] - '0') * 100 + (d[7] - '0') * 10 + (d[8] - '0');
	if (area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0)
		return false;
	if ((area == 78 && group == 5 && serial == 1120) ||
		(area == 219 && group == 9 && serial == 9999))
		return false;
	return true;
}

/*
 * SQL: biotoken.valid_cn_resident_id(value text) -> boolean
 */
Datum
biotoken_valid_cn_resident_id(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);

	bt_require_preloaded();
	PG_RETURN_BOOL(bt_valid_cn_resident_id(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t)));
}

/*
 * SQL: biotoken.valid_iban(value text) -> boolean
 */
Datum
biotoken_valid_iban(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);

	bt_require_preloaded();
	PG_RETURN_BOOL(bt_valid_iban(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t)));
}

/*
 * SQL: biotoken.valid_payment_card(value text) -> boolean
 */
Datum
biotoken_valid_payment_card(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);

	bt_require_preloaded();
	PG_RETURN_BOOL(bt_valid_payment_card(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t)));
}

/*
 * SQL: biotoken.valid_us_ssn(value text) -> boolean
 */
Datum
biotoken_valid_us_ssn(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	bool		dashed;

	bt_require_preloaded();
	PG_RETURN_BOOL(bt_valid_us_ssn(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), &dashed));
}

/* ----------------------------------------------------------------
 * Column names
 *
 * A name is split into lower-case words at everything that is not an ASCII
 * letter or digit, at camelCase humps, and between letters and digits:
 * "IBANNumber" -> |iban|number|, "cust_idCard2" -> |cust|id|card|2|.  A term
 * matches whole words, so "pan" matches "pan" and "card_pan" but neither
 * "company" nor "span"; the words of a term may also be fused ("idcard",
 * "kontonummer" for "konto #").  Long, unambiguous terms and terms in
 * scripts without word separators (Chinese, Japanese, Korean) match inside
 * a word too.  Names are matched in UTF-8 whatever the server encoding.
 * ----------------------------------------------------------------
 */

/* room for a 63-byte name converted to UTF-8 and its word marks */
#define BT_SPLIT_MAX	512

#define BT_TERM_WORDS	4

typedef struct BtNameTerm
{
	const char *words[BT_TERM_WORDS];	/* "#" stands for a number word */
	int			category;		/* one BtCategory bit */
	float		weight;			/* confidence from the name alone */
	BtValidator validator;		/* the content check the term implies */
	bool		infix;			/* may match inside a word */
} BtNameTerm;

#define ID	BT_CAT_IDENTITY
#define FIN	BT_CAT_FINANCIAL
#define BIO	BT_CAT_BIOMETRIC
#define NOV	BT_VAL_NONE

/*
 * Weights: 0.8-0.9 for terms that name the thing itself (iban, ssn,
 * passport, card number), 0.6-0.7 for common abbreviations that are
 * rarely anything else (sfz, dni, acct), 0.4-0.5 for short or ambiguous
 * ones (pan, nif, tin, photo).
 *
 * A validator is given only to terms that name one format: "sfz" is a
 * Chinese resident identity number, "ssn" a US one, but an "id card" or a
 * "social security" number may be any country's, so content that fails
 * the Chinese or US check does not weaken those names.
 */
static const BtNameTerm bt_name_terms[] = {
	/* identity: national identity numbers and documents */
	{{"national", "id"}, ID, 0.8f, NOV, false},
	{{"national", "identity"}, ID, 0.8f, NOV, false},
	{{"national", "#"}, ID, 0.6f, NOV, false},
	{{"id", "#"}, ID, 0.6f, NOV, false},
	{{"id", "card"}, ID, 0.8f, NOV, false},
	{{"id", "card", "#"}, ID, 0.8f, NOV, false},
	{{"identity", "card"}, ID, 0.8f, NOV, false},
	{{"identity", "card", "#"}, ID, 0.8f, NOV, false},
	{{"identity", "#"}, ID, 0.8f, NOV, false},
	{{"identity", "document"}, ID, 0.6f, NOV, false},
	{{"citizen", "id"}, ID, 0.8f, NOV, false},
	{{"citizen", "#"}, ID, 0.7f, NOV, false},
	{{"resident", "id"}, ID, 0.8f, NOV, false},
	{{"personal", "id"}, ID, 0.7f, NOV, false},
	{{"personal", "#"}, ID, 0.6f, NOV, false},
	{{"person", "#"}, ID, 0.6f, NOV, false},
	{{"ssn"}, ID, 0.9f, BT_VAL_SSN, false},
	{{"social", "security"}, ID, 0.8f, NOV, false},
	{{"social", "insurance", "#"}, ID, 0.7f, NOV, false},
	{{"sin"}, ID, 0.4f, NOV, false},
	{{"passport"}, ID, 0.8f, NOV, true},
	{{"reisepass"}, ID, 0.8f, NOV, true},
	{{"shen", "fen", "zheng"}, ID, 0.9f, BT_VAL_CN_ID, false},
	{{"shen", "fen", "zheng", "#"}, ID, 0.9f, BT_VAL_CN_ID, false},
	{{"sfz"}, ID, 0.7f, BT_VAL_CN_ID, false},
	{{"sfz", "#"}, ID, 0.8f, BT_VAL_CN_ID, false},
	{{"sfzh"}, ID, 0.8f, BT_VAL_CN_ID, false},
	{{"sfzhm"}, ID, 0.8f, BT_VAL_CN_ID, false},
	{{"zjhm"}, ID, 0.6f, NOV, false},
	{{"zheng", "jian", "#"}, ID, 0.6f, NOV, false},
	{{"dni"}, ID, 0.6f, NOV, false},
	{{"nif"}, ID, 0.5f, NOV, false},
	{{"nie"}, ID, 0.5f, NOV, false},
	{{"cpf"}, ID, 0.6f, NOV, false},
	{{"aadhaar"}, ID, 0.8f, NOV, true},
	{{"aadhar"}, ID, 0.8f, NOV, true},
	{{"nino"}, ID, 0.5f, NOV, false},
	{{"steuer", "id"}, ID, 0.8f, NOV, false},
	{{"steuer", "identifikations", "#"}, ID, 0.8f, NOV, false},
	{{"steuer", "#"}, ID, 0.6f, NOV, false},
	{{"tax", "id"}, ID, 0.6f, NOV, false},
	{{"tax", "#"}, ID, 0.5f, NOV, false},
	{{"tin"}, ID, 0.4f, NOV, false},
	{{"codice", "fiscale"}, ID, 0.8f, NOV, false},
	{{"cedula"}, ID, 0.7f, NOV, false},
	{{"curp"}, ID, 0.7f, NOV, false},
	{{"rfc"}, ID, 0.5f, NOV, false},
	{{"pesel"}, ID, 0.8f, NOV, false},
	{{"hetu"}, ID, 0.6f, NOV, false},
	{{"bsn"}, ID, 0.5f, NOV, false},
	{{"burger", "service", "#"}, ID, 0.8f, NOV, false},
	{{"ausweis"}, ID, 0.7f, NOV, true},
	{{"sozial", "versicherungs", "#"}, ID, 0.8f, NOV, false},
	{{"versicherten", "#"}, ID, 0.6f, NOV, true},
	{{"driver", "license"}, ID, 0.7f, NOV, false},
	{{"drivers", "license"}, ID, 0.7f, NOV, false},
	{{"driving", "licence"}, ID, 0.7f, NOV, false},
	{{"driver", "licence"}, ID, 0.7f, NOV, false},
	{{"voter", "id"}, ID, 0.7f, NOV, false},
	{{"jumin", "#"}, ID, 0.6f, NOV, false},
	{{"身份证"}, ID, 0.9f, BT_VAL_CN_ID, true},
	{{"身份證"}, ID, 0.9f, BT_VAL_CN_ID, true},
	{{"证件号"}, ID, 0.7f, NOV, true},
	{{"护照"}, ID, 0.8f, NOV, true},
	{{"マイナンバー"}, ID, 0.8f, NOV, true},
	{{"個人番号"}, ID, 0.8f, NOV, true},
	{{"주민등록번호"}, ID, 0.9f, NOV, true},

	/* financial: bank accounts and payment cards */
	{{"iban"}, FIN, 0.9f, BT_VAL_IBAN, false},
	{{"bic"}, FIN, 0.7f, NOV, false},
	{{"swift"}, FIN, 0.7f, NOV, false},
	{{"account", "#"}, FIN, 0.7f, NOV, false},
	{{"bank", "account"}, FIN, 0.8f, NOV, false},
	{{"acct"}, FIN, 0.6f, NOV, false},
	{{"acct", "#"}, FIN, 0.7f, NOV, false},
	{{"acc", "#"}, FIN, 0.5f, NOV, false},
	{{"konto", "#"}, FIN, 0.8f, NOV, true},
	{{"rekening"}, FIN, 0.7f, NOV, false},
	{{"rekening", "#"}, FIN, 0.8f, NOV, false},
	{{"cuenta", "bancaria"}, FIN, 0.8f, NOV, false},
	{{"#", "cuenta"}, FIN, 0.7f, NOV, false},
	{{"conto", "corrente"}, FIN, 0.8f, NOV, false},
	{{"routing", "#"}, FIN, 0.8f, NOV, false},
	{{"sort", "code"}, FIN, 0.8f, NOV, false},
	{{"ifsc"}, FIN, 0.7f, NOV, false},
	{{"clabe"}, FIN, 0.8f, NOV, false},
	{{"card", "#"}, FIN, 0.8f, BT_VAL_CARD, false},
	{{"credit", "card"}, FIN, 0.8f, BT_VAL_CARD, false},
	{{"debit", "card"}, FIN, 0.8f, BT_VAL_CARD, false},
	{{"bank", "card"}, FIN, 0.8f, BT_VAL_CARD, false},
	{{"cc", "#"}, FIN, 0.7f, BT_VAL_CARD, false},
	{{"ccn"}, FIN, 0.6f, BT_VAL_CARD, false},
	{{"pan"}, FIN, 0.5f, BT_VAL_CARD, false},
	{{"cvv"}, FIN, 0.8f, NOV, false},
	{{"cvc"}, FIN, 0.8f, NOV, false},
	{{"kreditkarte"}, FIN, 0.8f, BT_VAL_CARD, true},
	{{"karten", "#"}, FIN, 0.6f, BT_VAL_CARD, false},
	{{"tarjeta"}, FIN, 0.6f, BT_VAL_CARD, false},
	{{"carte", "bancaire"}, FIN, 0.8f, BT_VAL_CARD, false},
	{{"yin", "hang", "ka"}, FIN, 0.8f, BT_VAL_CARD, false},
	{{"yin", "hang", "ka", "#"}, FIN, 0.8f, BT_VAL_CARD, false},
	{{"ka", "hao"}, FIN, 0.7f, BT_VAL_CARD, false},
	{{"银行卡"}, FIN, 0.9f, BT_VAL_CARD, true},
	{{"信用卡"}, FIN, 0.9f, BT_VAL_CARD, true},
	{{"卡号"}, FIN, 0.8f, BT_VAL_CARD, true},
	{{"银行账户"}, FIN, 0.9f, NOV, true},
	{{"账号"}, FIN, 0.5f, NOV, true},
	{{"口座番号"}, FIN, 0.8f, NOV, true},
	{{"계좌번호"}, FIN, 0.8f, NOV, true},
	{{"카드번호"}, FIN, 0.8f, BT_VAL_CARD, true},

	/* biometric: faces and other biometric samples kept outside the type */
	{{"face"}, BIO, 0.6f, NOV, false},
	{{"faces"}, BIO, 0.6f, NOV, false},
	{{"face", "embedding"}, BIO, 0.8f, NOV, false},
	{{"face", "template"}, BIO, 0.8f, NOV, false},
	{{"face", "vector"}, BIO, 0.8f, NOV, false},
	{{"face", "encoding"}, BIO, 0.8f, NOV, false},
	{{"face", "features"}, BIO, 0.8f, NOV, false},
	{{"faceprint"}, BIO, 0.8f, NOV, true},
	{{"selfie"}, BIO, 0.6f, NOV, true},
	{{"photo"}, BIO, 0.4f, NOV, false},
	{{"photos"}, BIO, 0.4f, NOV, false},
	{{"portrait"}, BIO, 0.4f, NOV, false},
	{{"headshot"}, BIO, 0.5f, NOV, false},
	{{"mugshot"}, BIO, 0.6f, NOV, false},
	{{"fingerprint"}, BIO, 0.8f, NOV, true},
	{{"iris"}, BIO, 0.5f, NOV, false},
	{{"voiceprint"}, BIO, 0.7f, NOV, true},
	{{"biometric"}, BIO, 0.7f, NOV, true},
	{{"ren", "lian"}, BIO, 0.8f, NOV, false},
	{{"人脸"}, BIO, 0.9f, NOV, true},
	{{"面部"}, BIO, 0.7f, NOV, true},
	{{"照片"}, BIO, 0.5f, NOV, true},
	{{"指纹"}, BIO, 0.9f, NOV, true},
	{{"虹膜"}, BIO, 0.8f, NOV, true},
	{{"얼굴"}, BIO, 0.7f, NOV, true}
};

#undef ID
#undef FIN
#undef BIO
#undef NOV

/* what "#" in a term stands for: number, no, nr, nummer, numero, hao(ma) */
static const char *const bt_number_words[] = {
	"number", "numero", "nummer", "haoma", "num", "nbr", "nro", "hao",
	"no", "nr", "hm"
};

/*
 * Words that make a name describe something about the number rather than
 * the number itself: passport_expiry, card_type, iban_country, ssn_last4,
 * photo_url.  Any of them vetoes every term.
 */
static const char *const bt_stop_words[] = {
	"type", "kind", "status", "country", "issuer", "issuing", "brand",
	"expiry", "expires", "expiration", "exp", "date", "dt", "verified",
	"verification", "valid", "flag", "count", "cnt", "format", "fmt",
	"url", "uri", "path", "file", "filename", "link", "mask", "masked",
	"last", "len", "length", "hint", "required", "enabled", "at", "time"
};

/*
 * split_name
 *		Write the words of a UTF-8 identifier to out as "|w1|w2|...|", lower
 *		case.  Bytes of other scripts (>= 0x80) are kept as they are and form
 *		words of their own.
 */
static void
split_name(const char *name, char *out, size_t outsz)
{
	/* character classes: 0 separator, 1 lower, 2 upper, 3 digit, 4 other */
	size_t		len = strlen(name);
	size_t		o = 0;
	size_t		i;
	int			prev = 0;

	Assert(outsz >= 2);
	out[o++] = '|';
	for (i = 0; i < len && o + 3 < outsz; i++)
	{
		unsigned char c = (unsigned char) name[i];
		int			cls;

		if (c >= 'a' && c <= 'z')
			cls = 1;
		else if (c >= 'A' && c <= 'Z')
			cls = 2;
		else if (c >= '0' && c <= '9')
			cls = 3;
		else if (c >= 0x80)
			cls = 4;
		else
			cls = 0;

		if (cls == 0)
		{
			if (out[o - 1] != '|')
				out[o++] = '|';
			prev = 0;
			continue;
		}
		if (prev != 0 && out[o - 1] != '|')
		{
			bool		boundary;

			if (cls == 2 && prev == 2)
			{
				/* "IBANNumber": a capital followed by lower case starts a word */
				unsigned char next = (unsigned char) name[i + 1];

				boundary = (next >= 'a' && next <= 'z');
			}
			else if (cls == 1 && prev == 2)
				boundary = false;	/* "Iban" */
			else
				boundary = (cls != prev);
			if (boundary)
				out[o++] = '|';
		}
		out[o++] = (cls == 2) ? (char) (c - 'A' + 'a') : (char) c;
		prev = cls;
	}
	if (out[o - 1] != '|')
		out[o++] = '|';
	out[o] = '\0';
}

/*
 * Match words[k...] of a term at pos of a split name; returns the end
 * position of the match or -1.  Words of a term may be separated by a
 * word mark or fused; the last word must end a word unless infix.
 */
static int
match_term_words(const char *s, int pos, const char *const *words, int k,
				 bool infix)
{
	const char *w;
	int			i;

	if (k == BT_TERM_WORDS || words[k] == NULL)
		return (infix || s[pos] == '|') ? pos : -1;
	if (k > 0 && s[pos] == '|')
		pos++;
	w = words[k];
	if (strcmp(w, "#") == 0)
	{
		for (i = 0; i < lengthof(bt_number_words); i++)
		{
			size_t		wl = strlen(bt_number_words[i]);

			if (strncmp(s + pos, bt_number_words[i], wl) == 0)
			{
				int			end = match_term_words(s, pos + wl, words, k + 1, infix);

				if (end >= 0)
					return end;
			}
		}
		return -1;
	}
	if (strncmp(s + pos, w, strlen(w)) != 0)
		return -1;
	return match_term_words(s, pos + strlen(w), words, k + 1, infix);
}

/*
 * The end of the rightmost match of a term in a split name, or -1; *start
 * gets the earliest start of a match with that end.  Terms start at a word
 * boundary unless infix.
 */
static int
match_term(const char *s, const BtNameTerm *term, int *start)
{
	int			best = -1;
	int			pos;

	for (pos = 1; s[pos] != '\0'; pos++)
	{
		int			end;

		if (!term->infix && s[pos - 1] != '|')
			continue;
		if (s[pos] == '|')
			continue;
		end = match_term_words(s, pos, term->words, 0, term->infix);
		if (end > best)
		{
			best = end;
			*start = pos;
		}
	}
	return best;
}

/* Is the word at p (up to the next mark) one of a list? */
static bool
word_in(const char *p, const char *const *list, int n)
{
	const char *q = strchr(p, '|');
	size_t		wl = q ? (size_t) (q - p) : strlen(p);
	int			i;

	for (i = 0; i < n; i++)
		if (strlen(list[i]) == wl && strncmp(p, list[i], wl) == 0)
			return true;
	return false;
}

static bool
has_stop_word(const char *s)
{
	const char *p;

	for (p = s; *p != '\0'; p++)
		if (p[0] == '|' && p[1] != '\0' &&
			word_in(p + 1, bt_stop_words, lengthof(bt_stop_words)))
			return true;
	return false;
}

/*
 * bt_match_name
 *		The term that classifies a column name (UTF-8), or NULL.
 *
 * allowed is the set of categories the column's type can hold.  Within a
 * category the strongest term stands for it.  Between categories the one
 * matching furthest right wins, since it is the head of the name
 * ("passport_photo" is a photo, "photo_id_number" an ID number); at the
 * same end the longer match ("id_card_no" is an ID card number, not a card
 * number).  A name that ends in a reference word outside the term
 * ("face_id", "passport_ref") names a key of another row, not the data,
 * and matches nothing.
 */
static const BtNameTerm *
bt_match_name(const char *name, int allowed)
{
	static const char *const reference_words[] = {
		"id", "key", "ref", "fk", "pk", "uuid", "guid"
	};
	/* per category (indexed by bit number): best term, its span */
	const BtNameTerm *cat_term[3] = {NULL, NULL, NULL};
	int			cat_start[3] = {0, 0, 0};
	int			cat_end[3] = {-1, -1, -1};
	char		s[BT_SPLIT_MAX];
	int			best = -1;
	int			last_word;
	int			i;

	split_name(name, s, sizeof(s));
	if (has_stop_word(s))
		return NULL;
	for (i = 0; i < lengthof(bt_name_terms); i++)
	{
		const BtNameTerm *t = &bt_name_terms[i];
		int			c = pg_rightmost_one_pos32((uint32) t->category);
		int			start = 0;
		int			end;

		if ((t->category & allowed) == 0)
			continue;
		end = match_term(s, t, &start);
		if (end < 0)
			continue;
		if (cat_term[c] == NULL || t->weight > cat_term[c]->weight ||
			(t->weight == cat_term[c]->weight &&
			 (end > cat_end[c] || (end == cat_end[c] && start < cat_start[c]))))
		{
			cat_term[c] = t;
			cat_start[c] = start;
			cat_end[c] = end;
		}
	}
	for (i = 0; i < 3; i++)
	{
		if (cat_term[i] == NULL)
			continue;
		if (best < 0 || cat_end[i] > cat_end[best] ||
			(cat_end[i] == cat_end[best] && cat_start[i] < cat_start[best]))
			best = i;
	}
	if (best < 0)
		return NULL;

	/* s ends in "|"; find where its last word starts */
	last_word = (int) strlen(s) - 1;
	while (last_word > 0 && s[last_word - 1] != '|')
		last_word--;
	if (cat_end[best] < last_word &&
		word_in(s + last_word, reference_words, lengthof(reference_words)))
		return NULL;
	return cat_term[best];
}

/* ----------------------------------------------------------------
 * discover()
 * ----------------------------------------------------------------
 */

/* largest sample_rows accepted */
#define BT_DISCOVER_MAX_SAMPLE	1000000

/* content evidence needs this many sampled non-blank values */
#define BT_MIN_VALUES			10

/* and a Wilson lower bound of its valid share at least this */
#define BT_CONTENT_MIN_CONFIDENCE	0.5

/* the valid share below which content contradicts the name */
#define BT_NAME_CONTRADICTED_SHARE	0.5

/*
 * Tables up to this many pages are sampled with BERNOULLI (every page is
 * read, rows are drawn evenly); larger ones with SYSTEM (only the drawn
 * pages are read, so the cost follows sample_rows, not the table size).
 */
#define BT_BERNOULLI_MAX_PAGES	1280

/* TABLESAMPLE draws this many times the rows needed */
#define BT_OVERSAMPLE			1.25

/* rows per page assumed for a table that was never vacuumed or analyzed */
#define BT_ROWS_PER_PAGE_GUESS	60.0

/* longest wait for a lock on a table's children while sampling it */
#define BT_LOCK_TIMEOUT_MS		100

/* rows fetched from the sample cursor at a time */
#define BT_FETCH_BATCH			500

/* what a column's type can hold */
typedef enum BtTypeClass
{
	BT_TYPE_OTHER,				/* not a candidate */
	BT_TYPE_STRING,				/* text, varchar, char, name, citext ... */
	BT_TYPE_INTEGER,			/* int2, int4, int8, numeric */
	BT_TYPE_BYTEA,				/* bytea */
	BT_TYPE_EMBEDDING			/* float and int arrays, json, vector, oid */
} BtTypeClass;

typedef struct BtColumn
{
	AttrNumber	attnum;
	NameData	attname;
	BtTypeClass typeclass;
	bool		readable;		/* the caller may SELECT it */
	const BtNameTerm *term;		/* name match, or NULL */
	bool		sampled;		/* content was sampled */
	int64		nvalues;		/* sampled values that are not NULL or blank */
	int64		nvalid[BT_NUM_VALIDATORS];
	int64		nssn_any;		/* SSNs in either form (name-implied check) */
} BtColumn;

typedef struct BtRelation
{
	Oid			relid;
	char	   *nspname;
	char	   *relname;
	bool		populated;
	int			ncolumns;
	int			maxcolumns;
	BtColumn   *columns;
} BtRelation;

/* why a relation's content was not sampled */
typedef enum BtSkip
{
	BT_SKIP_NONE,
	BT_SKIP_DISABLED,			/* sample_rows = 0 */
	BT_SKIP_PRIVILEGE,			/* no SELECT privilege on the column */
	BT_SKIP_LOCKED,				/* another session holds a conflicting lock */
	BT_SKIP_FAILED,				/* the sample query failed */
	BT_SKIP_UNPOPULATED			/* a materialized view never refreshed */
} BtSkip;

static const char *const bt_validator_noun[BT_NUM_VALIDATORS] = {
	"Chinese resident identity numbers",
	"IBANs",
	"payment card numbers",
	"US social security numbers"
};

static const int bt_validator_category[BT_NUM_VALIDATORS] = {
	BT_CAT_IDENTITY,
	BT_CAT_FINANCIAL,
	BT_CAT_FINANCIAL,
	BT_CAT_IDENTITY
};

/*
 * The Wilson score lower bound (95%) of a share of k in n: the confidence
 * that a column holds mostly valid numbers, discounted for small samples
 * (10 of 10 gives 0.72, 100 of 100 gives 0.96).
 */
static double
wilson_lower(int64 k, int64 n)
{
	const double z = 1.959964;
	double		p;
	double		centre;
	double		margin;

	if (n <= 0)
		return 0.0;
	p = (double) k / (double) n;
	centre = p + z * z / (2.0 * n);
	margin = z * sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n));
	return (centre - margin) / (1.0 + z * z / n);
}

static BtTypeClass
classify_type(Oid typid)
{
	Oid			base = getBaseType(typid);
	Oid			elem;
	char		category;
	bool		preferred;
	HeapTuple	tup;
	BtTypeClass result = BT_TYPE_OTHER;

	switch (base)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case NUMERICOID:
			return BT_TYPE_INTEGER;
		case BYTEAOID:
			return BT_TYPE_BYTEA;
		case OIDOID:			/* a large object */
		case JSONOID:
		case JSONBOID:
			return BT_TYPE_EMBEDDING;
	}
	get_type_category_preferred(base, &category, &preferred);
	if (category == TYPCATEGORY_STRING)
		return BT_TYPE_STRING;

	elem = get_element_type(base);
	if (OidIsValid(elem))
	{
		switch (getBaseType(elem))
		{
			case FLOAT4OID:
			case FLOAT8OID:
			case NUMERICOID:
			case INT2OID:
			case INT4OID:
				return BT_TYPE_EMBEDDING;
		}
		return BT_TYPE_OTHER;
	}

	/* pgvector's types, in whatever schema it was installed */
	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(base));
	if (HeapTupleIsValid(tup))
	{
		const char *typname = NameStr(((Form_pg_type) GETSTRUCT(tup))->typname);

		if (strcmp(typname, "vector") == 0 || strcmp(typname, "halfvec") == 0 ||
			strcmp(typname, "sparsevec") == 0)
			result = BT_TYPE_EMBEDDING;
		ReleaseSysCache(tup);
	}
	return result;
}

/* the categories a type class can hold */
static int
typeclass_categories(BtTypeClass tc)
{
	switch (tc)
	{
		case BT_TYPE_STRING:
			return BT_CAT_ALL;
		case BT_TYPE_INTEGER:
			return BT_CAT_IDENTITY | BT_CAT_FINANCIAL;
		case BT_TYPE_BYTEA:
			return BT_CAT_ALL;
		case BT_TYPE_EMBEDDING:
			return BT_CAT_BIOMETRIC;
		case BT_TYPE_OTHER:
			break;
	}
	return 0;
}

static bool
typeclass_sampled(BtTypeClass tc)
{
	return tc == BT_TYPE_STRING || tc == BT_TYPE_INTEGER;
}

/* The name term of a column: match its name, in UTF-8, against the terms. */
static const BtNameTerm *
column_term(const char *attname, BtTypeClass tc)
{
	int			allowed = typeclass_categories(tc);
	char	   *utf8;
	const BtNameTerm *term;

	if (allowed == 0)
		return NULL;
	utf8 = pg_server_to_any(attname, strlen(attname), PG_UTF8);
	term = bt_match_name(utf8, allowed);
	if (utf8 != attname)
		pfree(utf8);
	return term;
}

/*
 * The catalog query of candidate columns: ordinary and partitioned tables
 * and materialized views outside the system schemas, the biotoken schema
 * and other sessions' temporary schemas; not partitions and not inherited
 * columns (the parent's label covers them, DESIGN.md).  Privileges are the
 * caller's: a column is readable when the caller may use its schema and
 * SELECT it.  Classified columns are left out afterwards, by the labels
 * module, which knows every way a column is classified.
 */
static const char *const bt_candidates_sql =
"SELECT c.oid, n.nspname, c.relname, c.relispopulated,"
"       a.attnum, a.attname, a.atttypid,"
"       pg_catalog.has_schema_privilege(n.oid, 'USAGE')"
"       AND pg_catalog.has_column_privilege(c.oid, a.attnum, 'SELECT')"
"  FROM pg_catalog.pg_class c"
"  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
"  JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid"
" WHERE c.relkind IN ('r', 'p', 'm')"
"   AND NOT c.relispartition"
"   AND a.attnum > 0 AND NOT a.attisdropped AND a.attinhcount = 0"
"   AND n.nspname NOT IN ('pg_catalog', 'information_schema', '" BT_SCHEMA "')"
"   AND n.nspname !~ '^pg_toast'"
"   AND (n.nspname !~ '^pg_temp_' OR n.oid = pg_catalog.pg_my_temp_schema())"
" ORDER BY n.nspname, c.relname, a.attnum";

/*
 * Read the candidate relations and their unclassified columns that are
 * worth a look (a name match, or a type whose content can be checked).
 * Returns a List of BtRelation in the current memory context.
 */
static List *
load_candidates(void)
{
	List	   *rels = NIL;
	BtRelation *cur = NULL;
	SPITupleTable *tt;
	uint64		nrows;
	uint64		r;
	int			ret;

	ret = SPI_execute(bt_candidates_sql, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(ret));
	tt = SPI_tuptable;
	nrows = SPI_processed;

	for (r = 0; r < nrows; r++)
	{
		HeapTuple	tup = tt->vals[r];
		TupleDesc	td = tt->tupdesc;
		bool		isnull;
		Oid			relid = DatumGetObjectId(SPI_getbinval(tup, td, 1, &isnull));
		Oid			atttypid = DatumGetObjectId(SPI_getbinval(tup, td, 7, &isnull));
		bool		readable_null;
		Datum		readable = SPI_getbinval(tup, td, 8, &readable_null);
		AttrNumber	attnum = DatumGetInt16(SPI_getbinval(tup, td, 5, &isnull));
		char	   *attname;
		BtTypeClass tc;
		const BtNameTerm *term;
		BtColumn   *col;

		CHECK_FOR_INTERRUPTS();

		/* by type (biometric, its domains, arrays, composites), label, lineage */
		if (bt_labels_column_category(relid, attnum) != BT_CAT_NONE)
			continue;
		attname = SPI_getvalue(tup, td, 6);
		tc = classify_type(atttypid);
		term = column_term(attname, tc);
		if (term == NULL && !typeclass_sampled(tc))
			continue;

		if (cur == NULL || cur->relid != relid)
		{
			cur = palloc0(sizeof(BtRelation));
			cur->relid = relid;
			cur->nspname = SPI_getvalue(tup, td, 2);
			cur->relname = SPI_getvalue(tup, td, 3);
			cur->populated = DatumGetBool(SPI_getbinval(tup, td, 4, &isnull));
			cur->maxcolumns = 8;
			cur->columns = palloc0(sizeof(BtColumn) * cur->maxcolumns);
			rels = lappend(rels, cur);
		}
		else if (cur->ncolumns == cur->maxcolumns)
		{
			cur->maxcolumns *= 2;
			cur->columns = repalloc(cur->columns,
									sizeof(BtColumn) * cur->maxcolumns);
		}

		col = &cur->columns[cur->ncolumns++];
		memset(col, 0, sizeof(BtColumn));
		col->attnum = attnum;
		namestrcpy(&col->attname, attname);
		col->typeclass = tc;
		/* NULL if the relation vanished meanwhile: then it is not readable */
		col->readable = !readable_null && DatumGetBool(readable);
		col->term = term;
	}
	SPI_freetuptable(tt);
	return rels;
}

/*
 * An estimate of the rows of a relation and of the pages a scan of it
 * reads, over its whole inheritance tree (SELECT without ONLY reads the
 * children, whose columns the parent's label covers).  Current sizes
 * come from pg_relation_size, densities from the last VACUUM or ANALYZE.
 */
static void
estimate_size(Oid relid, double *rows, double *pages)
{
	static const char *sql =
	"WITH RECURSIVE tree(oid) AS ("
	"  SELECT $1"
	"  UNION SELECT i.inhrelid FROM pg_catalog.pg_inherits i"
	"         JOIN tree ON i.inhparent = tree.oid)"
	"SELECT pg_catalog.sum(s.pages), pg_catalog.sum(CASE"
	"         WHEN c.reltuples > 0 AND c.relpages > 0"
	"         THEN c.reltuples / c.relpages * s.pages"
	"         ELSE s.pages * $2 END)"
	"  FROM tree JOIN pg_catalog.pg_class c ON c.oid = tree.oid,"
	"       LATERAL (SELECT COALESCE(pg_catalog.pg_relation_size(c.oid), 0)::float8"
	"                       / pg_catalog.current_setting('block_size')::float8 AS pages) s";
	Oid			argtypes[2] = {OIDOID, FLOAT8OID};
	Datum		args[2];
	bool		isnull;
	Datum		d;
	int			ret;

	args[0] = ObjectIdGetDatum(relid);
	args[1] = Float8GetDatum(BT_ROWS_PER_PAGE_GUESS);
	ret = SPI_execute_with_args(sql, 2, argtypes, args, NULL, true, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(ret));
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	*pages = isnull ? 0.0 : DatumGetFloat8(d);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	*rows = isnull ? 0.0 : DatumGetFloat8(d);
	SPI_freetuptable(SPI_tuptable);
}

/*
 * Build the sample query of a relation: the first 64 characters of each
 * sampled column as text, from a bounded sample of at most sample_rows
 * rows.  Tables small enough are read whole (up to the limit); larger
 * ones through TABLESAMPLE drawing a quarter more rows than needed (pages
 * hold unequal numbers of rows), REPEATABLE so that a second run sees the
 * same sample.  The oversampling is kept small because the LIMIT keeps
 * the rows read first: the sample should spread over the whole table and
 * all its partitions.
 */
static char *
build_sample_query(BtRelation *rel, int sample_rows)
{
	StringInfoData q;
	double		rows;
	double		pages;
	bool		first = true;
	int			i;

	initStringInfo(&q);
	appendStringInfoString(&q, "SELECT ");
	for (i = 0; i < rel->ncolumns; i++)
	{
		BtColumn   *col = &rel->columns[i];

		if (!col->sampled)
			continue;
		appendStringInfo(&q, "%spg_catalog.\"left\"(%s::pg_catalog.text, %d)",
						 first ? "" : ", ",
						 quote_identifier(NameStr(col->attname)),
						 BT_VALIDATE_MAX_LEN);
		first = false;
	}
	appendStringInfo(&q, " FROM %s",
					 quote_qualified_identifier(rel->nspname, rel->relname));

	estimate_size(rel->relid, &rows, &pages);
	if (rows > BT_OVERSAMPLE * sample_rows)
	{
		double		pct = 100.0 * BT_OVERSAMPLE * sample_rows / rows;

		if (pct < 0.000001)
			pct = 0.000001;
		appendStringInfo(&q, " TABLESAMPLE %s (%.6f) REPEATABLE (0)",
						 pages > BT_BERNOULLI_MAX_PAGES ? "SYSTEM" : "BERNOULLI",
						 pct);
	}
	appendStringInfo(&q, " LIMIT %d", sample_rows);
	return q.data;
}

/* Run every validator over one sampled value and count the valid ones. */
static void
check_value(BtColumn *col, const char *s, size_t len)
{
	bool		dashed;

	trim_space(&s, &len);
	if (len == 0)
		return;					/* blank: as good as NULL */
	col->nvalues++;
	if (bt_valid_cn_resident_id(s, len))
		col->nvalid[BT_VAL_CN_ID]++;
	if (bt_valid_iban(s, len))
		col->nvalid[BT_VAL_IBAN]++;
	if (bt_valid_payment_card(s, len))
		col->nvalid[BT_VAL_CARD]++;
	if (bt_valid_us_ssn(s, len, &dashed))
	{
		col->nssn_any++;
		if (dashed)
			col->nvalid[BT_VAL_SSN]++;
	}
}

/*
 * Read the sample of one relation and count the valid values per column.
 * The caller holds AccessShareLock on the relation.
 */
static void
read_sample(BtRelation *rel, int sample_rows)
{
	char	   *sql = build_sample_query(rel, sample_rows);
	Portal		portal;

	portal = SPI_cursor_open_with_args(NULL, sql, 0, NULL, NULL, NULL,
									   true, 0);
	for (;;)
	{
		uint64		r;

		CHECK_FOR_INTERRUPTS();
		SPI_cursor_fetch(portal, true, BT_FETCH_BATCH);
		if (SPI_processed == 0)
			break;
		for (r = 0; r < SPI_processed; r++)
		{
			HeapTuple	tup = SPI_tuptable->vals[r];
			int			attno = 0;
			int			i;

			for (i = 0; i < rel->ncolumns; i++)
			{
				BtColumn   *col = &rel->columns[i];
				bool		isnull;
				Datum		d;
				text	   *t;

				if (!col->sampled)
					continue;
				d = SPI_getbinval(tup, SPI_tuptable->tupdesc, ++attno, &isnull);
				if (isnull)
					continue;
				t = DatumGetTextPP(d);
				check_value(col, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
				if ((Pointer) t != DatumGetPointer(d))
					pfree(t);
			}
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	pfree(sql);
}

/*
 * sample_relation
 *		Sample the readable candidate columns of one relation.
 *
 * Runs in a subtransaction, so that a table that cannot be read (row
 * security with row_security = off, a broken output function, a table
 * dropped meanwhile) is skipped with a NOTICE and the run goes on; a
 * cancel ends the run.  The relation's lock is taken without waiting, and
 * the locks on its children and the size estimate wait at most
 * BT_LOCK_TIMEOUT_MS: discovery must not queue behind DDL, since every
 * later lock request would queue behind it.  The error's message is not
 * shown, since it may quote a sampled value; its SQLSTATE is.
 */
static BtSkip
sample_relation(BtRelation *rel, int sample_rows)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	volatile BtSkip result = BT_SKIP_NONE;
	int			nsampled = 0;
	int			i;

	for (i = 0; i < rel->ncolumns; i++)
	{
		BtColumn   *col = &rel->columns[i];

		col->sampled = col->readable && typeclass_sampled(col->typeclass);
		if (col->sampled)
			nsampled++;
	}
	if (nsampled == 0)
		return BT_SKIP_NONE;
	if (!rel->populated)
		result = BT_SKIP_UNPOPULATED;
	else
	{
		BeginInternalSubTransaction(NULL);
		MemoryContextSwitchTo(oldcxt);
		PG_TRY();
		{
			if (!ConditionalLockRelationOid(rel->relid, AccessShareLock))
				result = BT_SKIP_LOCKED;
			else
			{
				int			nestlevel = NewGUCNestLevel();
				Oid			save_userid;
				int			save_sec_context;

				if (LockTimeout == 0 || LockTimeout > BT_LOCK_TIMEOUT_MS)
					(void) set_config_option("lock_timeout",
											 CppAsString2(BT_LOCK_TIMEOUT_MS),
											 PGC_USERSET, PGC_S_SESSION,
											 GUC_ACTION_SAVE, true, 0, false);

				/*
				 * No policy may run (row_security = off: a table whose
				 * policies would apply to the caller fails and is skipped),
				 * and nothing run meanwhile may change the session's state
				 * (security-restricted, as ANALYZE).
				 */
				(void) set_config_option("row_security", "off",
										 PGC_USERSET, PGC_S_SESSION,
										 GUC_ACTION_SAVE, true, 0, false);
				GetUserIdAndSecContext(&save_userid, &save_sec_context);
				SetUserIdAndSecContext(save_userid,
									   save_sec_context | SECURITY_RESTRICTED_OPERATION);
				read_sample(rel, sample_rows);
				SetUserIdAndSecContext(save_userid, save_sec_context);
				AtEOXact_GUC(true, nestlevel);
			}
			ReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(oldcxt);
			CurrentResourceOwner = oldowner;
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(oldcxt);
			edata = CopyErrorData();
			if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
				PG_RE_THROW();
			FlushErrorState();
			RollbackAndReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(oldcxt);
			CurrentResourceOwner = oldowner;

			if (edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE)
				result = BT_SKIP_LOCKED;
			else
			{
				ereport(NOTICE,
						(errmsg("content of table \"%s.%s\" was not sampled",
								rel->nspname, rel->relname),
						 errdetail("Reading the sample failed with SQLSTATE %s; its columns were checked by name only.",
								   unpack_sql_state(edata->sqlerrcode))));
				result = BT_SKIP_FAILED;
			}
			FreeErrorData(edata);
		}
		PG_END_TRY();
	}

	if (result != BT_SKIP_NONE)
	{
		for (i = 0; i < rel->ncolumns; i++)
		{
			BtColumn   *col = &rel->columns[i];

			col->sampled = false;
			col->nvalues = 0;
			memset(col->nvalid, 0, sizeof(col->nvalid));
			col->nssn_any = 0;
		}
	}
	return result;
}

/*
 * Append "k of n sampled values are valid <noun>" to a reason.
 */
static void
append_content(StringInfo reason, const BtColumn *col, BtValidator v,
			   int64 nvalid)
{
	appendStringInfo(reason, INT64_FORMAT " of " INT64_FORMAT
					 " sampled values are valid %s",
					 nvalid, col->nvalues, bt_validator_noun[v]);
}

/*
 * Append "name matches "<term>"" to a reason, "#" spelled "number".  Terms
 * are UTF-8; one matched the name, so the server encoding can hold it.
 */
static void
append_name(StringInfo reason, const BtNameTerm *term)
{
	StringInfoData display;
	int			k;

	initStringInfo(&display);
	for (k = 0; k < BT_TERM_WORDS && term->words[k] != NULL; k++)
		appendStringInfo(&display, "%s%s", k > 0 ? " " : "",
						 strcmp(term->words[k], "#") == 0 ? "number" : term->words[k]);
	appendStringInfo(reason, "name matches \"%s\"",
					 pg_any_to_server(display.data, display.len, PG_UTF8));
	pfree(display.data);
}

/*
 * column_suggestion
 *		Combine the name and content evidence of a column into a suggested
 *		category, a reason and a confidence; false if there is nothing to
 *		suggest.
 *
 * Content alone suggests a category when at least BT_MIN_VALUES values
 * were sampled and the Wilson lower bound of the share that validates is
 * at least BT_CONTENT_MIN_CONFIDENCE; for SSNs only the dashed form
 * counts, since nine random digits pass nine times in ten.  A name alone
 * gives its term's weight.  Name and content that agree combine as
 * independent evidence, 1 - (1 - name)(1 - content).  Content that fails
 * the check the name implies ("iban" over values that are not IBANs)
 * halves the name's weight.  When name and content disagree on the
 * category, content wins.
 */
static bool
column_suggestion(const BtColumn *col, BtSkip skip, int *category,
				  StringInfo reason, double *confidence)
{
	const BtNameTerm *term = col->term;
	BtValidator best = BT_VAL_NONE;
	double		best_conf = 0.0;
	int			v;

	resetStringInfo(reason);

	/* the strongest content evidence */
	if (col->sampled && col->nvalues >= BT_MIN_VALUES)
	{
		for (v = 0; v < BT_NUM_VALIDATORS; v++)
		{
			double		c = wilson_lower(col->nvalid[v], col->nvalues);

			if (c >= BT_CONTENT_MIN_CONFIDENCE && c > best_conf)
			{
				best = (BtValidator) v;
				best_conf = c;
			}
		}
	}

	if (best != BT_VAL_NONE)
	{
		*category = bt_validator_category[best];
		if (term != NULL && term->category == *category)
		{
			append_name(reason, term);
			appendStringInfoString(reason, "; ");
			append_content(reason, col, best, col->nvalid[best]);
			*confidence = 1.0 - (1.0 - term->weight) * (1.0 - best_conf);
		}
		else
		{
			append_content(reason, col, best, col->nvalid[best]);
			if (term != NULL)
			{
				appendStringInfoString(reason, "; ");
				append_name(reason, term);
				appendStringInfo(reason, " (%s)",
								 bt_labels_category_name(term->category));
			}
			*confidence = best_conf;
		}
		return true;
	}

	if (term == NULL)
		return false;

	*category = term->category;
	append_name(reason, term);
	*confidence = term->weight;

	if (term->validator != BT_VAL_NONE && typeclass_sampled(col->typeclass))
	{
		if (!col->sampled)
		{
			switch (skip)
			{
				case BT_SKIP_DISABLED:
					appendStringInfoString(reason, " (content not sampled)");
					break;
				case BT_SKIP_PRIVILEGE:
					appendStringInfoString(reason, " (content not sampled: no SELECT privilege)");
					break;
				case BT_SKIP_LOCKED:
				case BT_SKIP_FAILED:
				case BT_SKIP_UNPOPULATED:
				case BT_SKIP_NONE:
					appendStringInfoString(reason, " (content not sampled)");
					break;
			}
		}
		else if (col->nvalues < BT_MIN_VALUES)
			appendStringInfo(reason, " (too few sampled values to check: " INT64_FORMAT ")",
							 col->nvalues);
		else
		{
			/* the name supplies the context an undashed SSN lacks */
			int64		nvalid = term->validator == BT_VAL_SSN ?
				col->nssn_any : col->nvalid[term->validator];
			double		share = (double) nvalid / (double) col->nvalues;

			appendStringInfoString(reason, "; ");
			if (share < BT_NAME_CONTRADICTED_SHARE)
			{
				appendStringInfoString(reason, "only ");
				append_content(reason, col, term->validator, nvalid);
				*confidence = term->weight / 2.0;
			}
			else
			{
				append_content(reason, col, term->validator, nvalid);
				*confidence = 1.0 - (1.0 - term->weight) *
					(1.0 - wilson_lower(nvalid, col->nvalues));
			}
		}
	}
	return true;
}

/*
 * SQL: biotoken.discover(sample_rows int DEFAULT 1000)
 *		-> TABLE(relation regclass, column_name name, suggested_category text,
 *				 reason text, confidence real)
 *
 * Suggest unclassified columns to classify, in the order of schema, table
 * and column.  sample_rows bounds the rows read per table; 0 looks at
 * names only and reads no table data.  Throws 22023 for a sample_rows out
 * of range; a table that cannot be sampled gets a NOTICE, not an error.
 */
Datum
biotoken_discover(PG_FUNCTION_ARGS)
{
	int32		sample_rows = PG_GETARG_INT32(0);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext relcxt;
	MemoryContext oldcxt;
	StringInfoData reason;
	List	   *rels;
	ListCell   *lc;
	int			ret;
	int			nestlevel;

	bt_require_preloaded();
	if (sample_rows < 0 || sample_rows > BT_DISCOVER_MAX_SAMPLE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("sample_rows must be between 0 and %d",
						BT_DISCOVER_MAX_SAMPLE),
				 errhint("Use 0 to look at column names only.")));

	InitMaterializedSRF(fcinfo, 0);

	/*
	 * Every query below names pg_catalog objects unqualified (operators),
	 * so no other schema may be searched: a table owner's operator that
	 * matched better would run as the caller, an admin.
	 */
	nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);

	if ((ret = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(ret));

	rels = load_candidates();

	relcxt = AllocSetContextCreate(CurrentMemoryContext,
								   "biotoken discover relation",
								   ALLOCSET_DEFAULT_SIZES);
	initStringInfo(&reason);

	foreach(lc, rels)
	{
		BtRelation *rel = (BtRelation *) lfirst(lc);
		BtSkip		skip = BT_SKIP_NONE;
		int			nunreadable = 0;
		int			i;

		CHECK_FOR_INTERRUPTS();
		oldcxt = MemoryContextSwitchTo(relcxt);

		for (i = 0; i < rel->ncolumns; i++)
			if (!rel->columns[i].readable &&
				typeclass_sampled(rel->columns[i].typeclass))
				nunreadable++;

		if (sample_rows == 0)
			skip = BT_SKIP_DISABLED;
		else
		{
			skip = sample_relation(rel, sample_rows);
			if (skip == BT_SKIP_LOCKED)
				ereport(NOTICE,
						(errmsg("content of table \"%s.%s\" was not sampled",
								rel->nspname, rel->relname),
						 errdetail("Another session holds a lock that conflicts with reading it; its columns were checked by name only.")));
			else if (skip == BT_SKIP_UNPOPULATED)
				ereport(NOTICE,
						(errmsg("content of materialized view \"%s.%s\" was not sampled",
								rel->nspname, rel->relname),
						 errdetail("It has not been populated; its columns were checked by name only.")));
			if (nunreadable > 0)
				ereport(NOTICE,
						(errmsg_plural("content of %d column of table \"%s.%s\" was not sampled",
									   "content of %d columns of table \"%s.%s\" was not sampled",
									   nunreadable,
									   nunreadable, rel->nspname, rel->relname),
						 errdetail_plural("You do not have SELECT privilege on it; it was checked by name only.",
										  "You do not have SELECT privilege on them; they were checked by name only.",
										  nunreadable)));
		}

		for (i = 0; i < rel->ncolumns; i++)
		{
			BtColumn   *col = &rel->columns[i];
			BtSkip		colskip = skip;
			int			category;
			double		confidence;
			Datum		values[5];
			bool		nulls[5] = {false, false, false, false, false};

			if (!col->readable && colskip == BT_SKIP_NONE)
				colskip = BT_SKIP_PRIVILEGE;
			if (!column_suggestion(col, colskip, &category, &reason, &confidence))
				continue;

			values[0] = ObjectIdGetDatum(rel->relid);
			values[1] = NameGetDatum(&col->attname);
			values[2] = CStringGetTextDatum(bt_labels_category_name(category));
			values[3] = CStringGetTextDatum(reason.data);
			values[4] = Float4GetDatum((float4) confidence);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc,
								 values, nulls);
		}

		MemoryContextSwitchTo(oldcxt);
		MemoryContextReset(relcxt);
	}

	SPI_finish();
	AtEOXact_GUC(true, nestlevel);
	return (Datum) 0;
}
