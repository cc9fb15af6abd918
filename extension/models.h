/*-------------------------------------------------------------------------
 *
 * models.h
 *	  Model profiles: the mean embedding of a face model.
 *
 * IDENTIFICATION
 *	  extension/models.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef BIOTOKEN_MODELS_H
#define BIOTOKEN_MODELS_H

typedef struct BtModel
{
	int32		model_id;
	int			dims;
	char	   *name;
	float	   *mean;			/* dims floats */
} BtModel;

extern const BtModel *bt_models_by_name(const char *name);
extern const BtModel *bt_models_by_id(int32 model_id);

#endif							/* BIOTOKEN_MODELS_H */
