"""The penguin example's model: a ``run_fn`` for the standard Trainer.

It trains on Transform's output (z-scored measurements, vocabulary ids, buckets); the Trainer saves it
as a Model bundle (skops file + the fitted transform + a signature), so ``sw.load_model(uri).predict``
takes raw penguin rows.
"""

from __future__ import annotations


def run_fn(ctx):  # noqa: ANN001, ANN201 - the TrainerContext
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    X, y = ctx.train.numpy()  # features: every transformed column but the label ("species")
    regularization = ctx.hyperparameters.get("C", ctx.train_args.get("C", 1.0))
    classifier = make_pipeline(
        SimpleImputer(strategy="median"),  # a missing measurement leaves its ratio and bucket null
        LogisticRegression(C=regularization, max_iter=1000, random_state=0),
    )
    classifier.fit(X, y)
    X_eval, y_eval = ctx.eval.numpy()
    ctx.log_metric("train_accuracy", classifier.score(X, y))
    ctx.log_metric("eval_accuracy", classifier.score(X_eval, y_eval))
    ctx.save_model(classifier)
