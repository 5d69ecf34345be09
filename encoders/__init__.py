"""driftrec's model side: text encoding, multimodal fusion, the interest LSTM, training, evaluation.

No Kafka and no Faust here: everything can be used and tested offline.
"""
