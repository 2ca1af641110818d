CREATE TABLE recommendations (
  product_id INTEGER NOT NULL,
  recommendation_id INTEGER NOT NULL,
  author TEXT NOT NULL,
  rate INTEGER NOT NULL,
  content TEXT NOT NULL,
  PRIMARY KEY (product_id, recommendation_id)
);
