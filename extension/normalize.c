/*-------------------------------------------------------------------------
 *
 * normalize.c
 *	  The statement of an access-log record, normalized: every literal
 *	  constant replaced by a $n placeholder, every comment dropped.
 *
 * The text is lexed with the core scanner (as pg_stat_statements does to
 * find the lengths of the constants that query jumbling located), but every
 * literal token is replaced, not only those the jumble saw: in PostgreSQL
 * 15 utility statements (CALL, DO, EXECUTE, COPY, EXPLAIN) carry no
 * constant locations, and their literals must not reach the log either.
 * Comments are dropped for the same reason.
 *
 * Quoting rules: whether a backslash escapes a quote in '...' depends on
 * standard_conforming_strings when the statement was parsed, which is not
 * always the value in force when its record is written (a query string
 * that changes the setting is parsed as a whole before the change; a
 * function's SET clause changes it for the function's statements only).
 * Lexed under the wrong rules, a literal can turn into a quoted identifier
 * and be copied through.  So a statement holding a backslash is lexed under
 * both rules: it is written as the current rules read it, and any token
 * that overlaps a literal of the other reading is replaced too.  Whichever
 * rule the parser used, no byte of its literals reaches the result.  A
 * reading that stops at a lexer error cannot be the parser's (it read the
 * statement whole), and is not used.
 *
 * Quoted identifiers are names of objects or aliases and are kept, except
 * one holding six or more digits (an ID number or card number used as an
 * alias looks like that; object names rarely do), which is written "?".
 * N'...' (a national character literal) is written as $n, like '...'.
 *
 * Memory: the result and all scratch space are palloc'd in the caller's
 * context; nothing is kept.  No locks.
 *
 * IDENTIFICATION
 *	  extension/normalize.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "nodes/parsenodes.h"
#include "parser/scanner.h"
#include "parser/parser.h"
#include "parser/scansup.h"

#include "compat.h"
#include "normalize.h"

typedef enum BtTokenKind
{
	BT_TOKEN_OTHER,				/* copied through */
	BT_TOKEN_LITERAL,			/* replaced by $n */
	BT_TOKEN_DATA_IDENT,		/* a quoted identifier that looks like data */
	BT_TOKEN_NCHAR				/* the N of N'...' */
} BtTokenKind;

typedef struct BtToken
{
	int			location;
	int			length;
	BtTokenKind kind;
} BtToken;

typedef struct BtTokens
{
	BtToken    *tokens;
	int			ntokens;
	int			maxtokens;
	int			maxparam;		/* highest $n seen */
	bool		complete;		/* false: the scanner stopped at an error */
} BtTokens;

/* a quoted identifier holding this many digits is taken for data */
#define BT_DATA_IDENT_DIGITS	6

static BtTokenKind
token_kind(const char *stmt, int location, int length)
{
	int			digits = 0;
	int			i;

	switch (bt_core_token_class(stmt, location, length))
	{
		case BT_CORE_CONST:
			return BT_TOKEN_LITERAL;
		case BT_CORE_NCHAR:
			/* N'...' comes as the keyword NCHAR spelled with one letter */
			return BT_TOKEN_NCHAR;
		case BT_CORE_QUOTED_IDENT:
			for (i = location; i < location + length; i++)
				if (stmt[i] >= '0' && stmt[i] <= '9')
					digits++;
			return digits >= BT_DATA_IDENT_DIGITS ?
				BT_TOKEN_DATA_IDENT : BT_TOKEN_OTHER;
		default:
			return BT_TOKEN_OTHER;
	}
}

/*
 * Lex stmt with the given standard_conforming_strings into *out (tokens
 * palloc'd in the current context).  A lexer error ends the tokens and
 * clears out->complete; it is swallowed, since it is of the statement, not
 * of the log, and its message may quote the statement.
 */
static void
lex_statement(const char *stmt, bool conforming, BtTokens *out)
{
	core_yyscan_t yyscanner;
	core_yy_extra_type yyextra;
	core_YYSTYPE yylval;
	YYLTYPE		yylloc;
	MemoryContext oldcxt = CurrentMemoryContext;

	out->ntokens = 0;
	out->maxtokens = 64;
	out->maxparam = 0;
	out->complete = true;
	out->tokens = palloc(out->maxtokens * sizeof(BtToken));

	PG_TRY();
	{
		yyscanner = scanner_init(stmt, &yyextra, &ScanKeywords, ScanKeywordTokens);
		yyextra.standard_conforming_strings = conforming;
		/* the statement was read once already; say nothing twice */
		yyextra.escape_string_warning = false;
		for (;;)
		{
			int			tok = core_yylex(&yylval, &yylloc, yyscanner);
			BtToken    *t;

			if (tok == 0)
				break;
			if (out->ntokens == out->maxtokens)
			{
				out->maxtokens *= 2;
				out->tokens = repalloc(out->tokens,
									   out->maxtokens * sizeof(BtToken));
			}
			t = &out->tokens[out->ntokens++];
			t->location = yylloc;
			t->length = strlen(yyextra.scanbuf + yylloc);
			t->kind = token_kind(stmt, t->location, t->length);
			if (bt_core_token_class(stmt, t->location, t->length) == BT_CORE_PARAM &&
				yylval.ival > out->maxparam)
				out->maxparam = yylval.ival;
		}
		scanner_finish(yyscanner);
	}
	PG_CATCH();
	{
		/* the scanner holds no resources but palloc'd memory */
		MemoryContextSwitchTo(oldcxt);
		FlushErrorState();
		out->complete = false;
	}
	PG_END_TRY();
}

/*
 * bt_normalize_statement
 *		The statement in text[location, location + len) (len <= 0: to the
 *		end) with every literal constant replaced by $n (numbered after the
 *		highest $n the statement has) and every comment dropped.
 *
 * Tokens are found with the core scanner; a token's length is where flex
 * put its NUL after it, as in pg_stat_statements.  Text the scanner cannot
 * read (the statement may be one the parser refused) is cut off at the
 * first unreadable token: a literal is never copied through.  A statement
 * with a backslash is also lexed under the other standard_conforming_strings
 * (see the file header).  The result is palloc'd in the current context.
 */
char *
bt_normalize_statement(const char *text, int location, int len)
{
	char	   *stmt;
	int			stmtlen;
	BtTokens	lex;
	BtTokens	other;
	bool		have_other = false;
	int			other_end = 0;	/* where the other reading stopped */
	int			oi = 0;
	StringInfoData out;
	volatile int pos = 0;
	int			next_param;
	int			i;

	if (location < 0)
		location = 0;
	if (location > (int) strlen(text))
		location = strlen(text);
	stmtlen = strlen(text + location);
	if (len > 0 && len < stmtlen)
		stmtlen = len;
	stmt = pnstrdup(text + location, stmtlen);

	lex_statement(stmt, standard_conforming_strings, &lex);
	if (memchr(stmt, '\\', stmtlen) != NULL)
	{
		lex_statement(stmt, !standard_conforming_strings, &other);
		have_other = true;

		/*
		 * The parser read the statement whole, so a reading that stops at
		 * an error is not the one it used: write the other reading, alone.
		 * Only when neither reads it whole (a statement no parser took) is
		 * the current one written, with every token past the point where
		 * the other reading stopped taken for a literal.
		 */
		if (!lex.complete && other.complete)
		{
			BtTokens	swap = lex;

			lex = other;
			other = swap;
		}
		if (lex.complete && !other.complete)
		{
			pfree(other.tokens);
			have_other = false;
		}
		else
		{
			if (other.complete)
				other_end = stmtlen;
			else if (other.ntokens > 0)
				other_end = other.tokens[other.ntokens - 1].location +
					other.tokens[other.ntokens - 1].length;
			if (other.maxparam > lex.maxparam)
				lex.maxparam = other.maxparam;
		}
	}

	initStringInfo(&out);
	next_param = lex.maxparam + 1;
	for (i = 0; i < lex.ntokens; i++)
	{
		BtToken    *t = &lex.tokens[i];
		BtTokenKind kind = t->kind;
		int			end = t->location + t->length;
		int			j;
		bool		blank = true;

		/* between tokens only white space and comments: keep only space */
		for (j = pos; j < t->location; j++)
			if (!scanner_isspace(stmt[j]))
				blank = false;
		if (blank)
			appendBinaryStringInfo(&out, stmt + pos, t->location - pos);
		else
			appendStringInfoChar(&out, ' ');
		pos = end;

		/*
		 * A token that overlaps a literal of the other reading, or text the
		 * other reading could not lex, is a literal too.
		 */
		if (have_other && kind != BT_TOKEN_LITERAL)
		{
			while (oi < other.ntokens &&
				   other.tokens[oi].location + other.tokens[oi].length <= t->location)
				oi++;
			for (j = oi; j < other.ntokens && other.tokens[j].location < end; j++)
				if (other.tokens[j].kind == BT_TOKEN_LITERAL ||
					other.tokens[j].kind == BT_TOKEN_DATA_IDENT)
					kind = BT_TOKEN_LITERAL;
			if (end > other_end)
				kind = BT_TOKEN_LITERAL;
		}

		switch (kind)
		{
			case BT_TOKEN_LITERAL:
				appendStringInfo(&out, "$%d", next_param++);
				break;
			case BT_TOKEN_DATA_IDENT:
				appendStringInfoString(&out, "\"?\"");
				break;
			case BT_TOKEN_NCHAR:
				/* N'...' is one literal; a lone N stays */
				if (i + 1 < lex.ntokens &&
					lex.tokens[i + 1].location == end &&
					lex.tokens[i + 1].kind == BT_TOKEN_LITERAL)
					break;
				appendBinaryStringInfo(&out, stmt + t->location, t->length);
				break;
			case BT_TOKEN_OTHER:
				appendBinaryStringInfo(&out, stmt + t->location, t->length);
				break;
		}
	}
	if (!lex.complete)
		appendStringInfoString(&out, " ...");

	pfree(lex.tokens);
	if (have_other)
		pfree(other.tokens);
	pfree(stmt);
	return out.data;
}
