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
#include "parser/scansup.h"

#include "compat.h"
#include "normalize.h"

typedef struct BtToken
{
	int			location;
	int			length;
	bool		literal;
} BtToken;

/*
 * bt_normalize_statement
 *		The statement in text[location, location + len) (len <= 0: to the
 *		end) with every literal constant replaced by $n (numbered after the
 *		highest $n the statement has) and every comment dropped.
 *
 * Tokens are found with the core scanner; a token's length is where flex
 * put its NUL after it, as in pg_stat_statements.  Text the scanner cannot
 * read (the statement may be one the parser refused) is cut off at the
 * first unreadable token: a literal is never copied through.  The result is
 * palloc'd in the current context.
 */
char *
bt_normalize_statement(const char *text, int location, int len)
{
	char	   *stmt;
	int			stmtlen;
	BtToken    *tokens;
	int			ntokens = 0;
	int			maxtokens = 64;
	int			maxparam = 0;
	bool		complete = true;
	StringInfoData out;
	int			pos = 0;
	int			next_param;
	int			i;
	core_yyscan_t yyscanner;
	core_yy_extra_type yyextra;
	core_YYSTYPE yylval;
	YYLTYPE		yylloc;
	MemoryContext oldcxt = CurrentMemoryContext;

	if (location < 0)
		location = 0;
	if (location > (int) strlen(text))
		location = strlen(text);
	stmtlen = strlen(text + location);
	if (len > 0 && len < stmtlen)
		stmtlen = len;
	stmt = pnstrdup(text + location, stmtlen);
	tokens = palloc(maxtokens * sizeof(BtToken));

	PG_TRY();
	{
		yyscanner = scanner_init(stmt, &yyextra, &ScanKeywords, ScanKeywordTokens);
		/* the statement was read once already; say nothing twice */
		yyextra.escape_string_warning = false;
		for (;;)
		{
			int			tok = core_yylex(&yylval, &yylloc, yyscanner);
			BtTokenKind kind;

			if (tok == 0)
				break;
			if (ntokens == maxtokens)
			{
				maxtokens *= 2;
				tokens = repalloc(tokens, maxtokens * sizeof(BtToken));
			}
			tokens[ntokens].location = yylloc;
			tokens[ntokens].length = strlen(yyextra.scanbuf + yylloc);
			kind = bt_core_token_kind(yyextra.scanbuf + yylloc);
			tokens[ntokens].literal = (kind == BT_TOKEN_LITERAL);
			if (kind == BT_TOKEN_PARAM && yylval.ival > maxparam)
				maxparam = yylval.ival;
			ntokens++;
		}
		scanner_finish(yyscanner);
	}
	PG_CATCH();
	{
		/*
		 * A lexer error is of the statement, not of the log, and its
		 * message may quote the statement: drop it.  The scanner holds no
		 * resources but palloc'd memory.
		 */
		MemoryContextSwitchTo(oldcxt);
		FlushErrorState();
		complete = false;
	}
	PG_END_TRY();

	initStringInfo(&out);
	next_param = maxparam + 1;
	for (i = 0; i < ntokens; i++)
	{
		BtToken    *t = &tokens[i];
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

		if (t->literal)
			appendStringInfo(&out, "$%d", next_param++);
		else
			appendBinaryStringInfo(&out, stmt + t->location, t->length);
		pos = t->location + t->length;
	}
	if (!complete)
		appendStringInfoString(&out, " ...");

	pfree(tokens);
	pfree(stmt);
	return out.data;
}
