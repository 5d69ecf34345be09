"""GRU4Rec (Hidasi et al., 2016) as RecBole 1.2.1 implements it (``gru4rec.py``).

Item embedding (64, padding row 0, Xavier-normal) -> dropout 0.3 -> one GRU layer without bias
(hidden 128, Xavier-uniform input and recurrent weights) -> dense 128 -> 64; the user vector at
position t scores every item by inner product with the same item embedding table.
"""

from __future__ import annotations

import torch
from torch import nn

from encoders.baselines import BaselineConfig, ItemSequenceNet


class GRU4Rec(ItemSequenceNet):
    def __init__(self, config: BaselineConfig) -> None:
        super().__init__(config)  # the item table first (creation order sets the init)
        self.emb_drop = nn.Dropout(config.p_dropout)
        self.gru = nn.GRU(
            config.dim, config.hidden, num_layers=config.n_layers, bias=False, batch_first=True
        )
        self.dense = nn.Linear(config.hidden, config.dim)
        # RecBole's _init_weights: Xavier-normal embeddings (the padding row included, as there),
        # Xavier-uniform first-layer GRU weights; the dense layer keeps torch's default.
        nn.init.xavier_normal_(self.items.weight)
        nn.init.xavier_uniform_(self.gru.get_parameter("weight_hh_l0"))
        nn.init.xavier_uniform_(self.gru.get_parameter("weight_ih_l0"))

    def encode(self, tokens: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` right-padded tokens -> ``(B, T, D)`` user vectors."""
        out, _ = self.gru(self.emb_drop(self.items(tokens)))  # (B, T, H)
        return self.dense(out)  # type: ignore[no-any-return]  # nn.Module call is untyped
