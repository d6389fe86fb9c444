"""``Validator``: what a subnet defines for its validators (the neuron that runs it is
:class:`subnetkit.validator.neuron.ValidatorNeuron`; the module docstring there says what the
loop does with each hook)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Generic, TypeVar, cast

from google.protobuf.message import Message
from torch import Tensor

from subnetkit.core.settings import NeuronSettings
from subnetkit.validator.results import QueryResult
from subnetkit.validator.scoring import AnyScorer
from subnetkit.wire.methods import MethodRef

#: A validator's task type (what :meth:`Validator.make_task` returns).
TaskT = TypeVar("TaskT")
#: The response message of the RPC the validator calls.
ReplyT = TypeVar("ReplyT", bound=Message)
#: What :meth:`Validator.to_answer` makes of one reply, and the scorer reads.
AnswerT = TypeVar("AnswerT")


class Validator(Generic[TaskT, ReplyT, AnswerT]):
    """Base class for a subnet's validator logic. Subclass it; see the module docstring.

    Parametrize it to type the hooks: ``Validator[EchoTask, echo_pb2.EchoResponse, EchoAnswer]``
    makes ``to_answer`` receive a ``QueryResult[EchoResponse]`` and ``score`` its answers.
    """

    #: the unary RPC every round calls: ``(echo_pb2, "Echo.Echo")``, a full name
    #: (``"subnets.echo.v1.Echo.Echo"``), a gRPC path, or a ``MethodDescriptor``
    method: ClassVar[MethodRef]
    #: goes into ``version_key`` of weight submissions (the subnet's spec version)
    version_key: ClassVar[int] = 0

    @classmethod
    def from_settings(
        cls, settings: NeuronSettings, variant: str | None = None
    ) -> Validator[TaskT, ReplyT, AnswerT]:
        """Build from the neuron's settings (override to read ``settings.subnet_config(...)``
        or e.g. ``settings.validator``)."""
        return cls()

    def make_task(self, seed: int) -> TaskT:
        """This round's task, drawn from ``seed`` (fresh random per round)."""
        raise NotImplementedError

    def build_request(self, task: TaskT) -> Message:
        """The request message sent to every queried miner."""
        raise NotImplementedError

    def to_answer(self, task: TaskT, result: QueryResult[ReplyT]) -> AnswerT | None:
        """One verified reply (``result.value``) as the scorer's input; None scores it 0.

        Called only for answered queries; raising a SubnetkitError (e.g. a WireError for a
        malformed reply) also scores that miner 0. The default passes the response on.
        """
        return cast(AnswerT, result.value)

    def score(self, task: TaskT, answers: Sequence[AnswerT]) -> Sequence[float] | Tensor:
        """One score in [0, 1] per answer (a plain function: the runtime runs it off the event
        loop). Define this, or :meth:`make_scorer` for a PyTorch model."""
        raise NotImplementedError

    def make_scorer(self, settings: NeuronSettings) -> AnyScorer:
        """The scorer, built once per process: by default this validator's own :meth:`score`.

        Override to return an ``nn.Module`` taking a ``ScoringBatch`` (a model), or another
        ``score(task, answers)`` function.
        """
        if type(self).score is Validator.score:
            raise NotImplementedError(
                f"{type(self).__name__} defines neither score(task, answers) nor make_scorer()"
            )
        return self.score


__all__ = ["AnswerT", "ReplyT", "TaskT", "Validator"]
