"""The one exception of the evaluation stage."""


class EvaluationError(ValueError):
    """Bad evaluation input (predictions file, lexicon, polygon).

    The message is one line naming the file or image, the record and the problem; command-line tools print it as
    ``error: <message>`` and exit with status 2.
    """
