"""What every configuration model shares: strict, immutable, no unknown keys, no NaN or infinity."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Probability = Annotated[float, Field(ge=0, le=1)]


class Strict(BaseModel):
    """A configuration block: unknown keys are errors, values are strictly typed, and it is frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)
